#!/usr/bin/env bash
# Declares new public API: builds, and appends every symbol the build reports as undeclared
# (RS0016) to the PublicAPI.Unshipped.txt of its project. Removed symbols (RS0017) are reported
# for you to mark *REMOVED* by hand. Review the diff before committing.
# Usage: scripts/public-api.sh [PROJECT-OR-SOLUTION]   (default: the solution)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-Orchestration.sln}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet build "$target" -c Release -nologo -v minimal --no-incremental -p:TreatWarningsAsErrors=false > "$log" 2>&1 || true
grep -oE "[^ ]+\.cs\([0-9]+,[0-9]+\): (warning|error) RS0016: Symbol '[^']+'" "$log" | sort -u | while read -r line; do
  file=${line%%(*}
  symbol=$(sed -E "s/.*Symbol '([^']+)'$/\1/" <<<"$line")
  dir=$(dirname "$file")
  while [ ! -f "$dir/PublicAPI.Unshipped.txt" ] && [ "$dir" != "/" ]; do dir=$(dirname "$dir"); done
  grep -qxF "$symbol" "$dir/PublicAPI.Unshipped.txt" || echo "$symbol" >> "$dir/PublicAPI.Unshipped.txt"
  echo "public-api: declared in $dir/PublicAPI.Unshipped.txt: $symbol"
done
grep -E "RS0017" "$log" | sort -u || true
