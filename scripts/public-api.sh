#!/usr/bin/env bash
# Keeps PublicAPI.Unshipped.txt (the public surface not yet released) in step with the code:
# builds, appends every symbol the build reports as undeclared (RS0016) and deletes every declared
# one that is gone (RS0017) from the Unshipped file of its project. A symbol gone from
# PublicAPI.Shipped.txt (a released surface) is only reported: mark it *REMOVED* by hand.
# Review the diff before committing.
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
  echo "public-api: added to $dir/PublicAPI.Unshipped.txt: $symbol"
done
grep -oE "[^ ]+PublicAPI\.(Shipped|Unshipped)\.txt\([0-9]+,[0-9]+\): (warning|error) RS0017: Symbol '[^']+'" "$log" | sort -u | while read -r line; do
  file=${line%%(*}
  symbol=$(sed -E "s/.*Symbol '([^']+)'$/\1/" <<<"$line")
  case "$file" in
    *Unshipped.txt)
      grep -vxF "$symbol" "$file" > "$file.tmp" || true
      mv "$file.tmp" "$file"
      echo "public-api: removed from $file: $symbol" ;;
    *) echo "public-api: gone from the released surface, mark it *REMOVED* in PublicAPI.Unshipped.txt: $symbol" ;;
  esac
done
