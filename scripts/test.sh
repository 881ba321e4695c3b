#!/usr/bin/env bash
# The README's test command: installs what the tests need, builds, and runs every test rung
# (Unit, Integration, E2E). Tests that need etcd start it themselves on loopback; when it is
# missing they fail, they never skip. Ends with one line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build-images.sh
dotnet build Orchestration.sln -c Release -warnaserror -nologo -v quiet
# Every src project as a package into artifacts/packages; a test installs the orch tool from there.
dotnet pack Orchestration.sln -c Release --no-build -nologo -v quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# One test project at a time (-m:1): the runtime projects and the end-to-end tests each start
# containerd or dockerd with real containers, and side by side on 2 cores they starve each other.
dotnet test Orchestration.sln -c Release --no-build -nologo -v quiet -m:1 --logger "console;verbosity=minimal" "$@" 2>&1 | tee "$log" || status=$?
# Sum the per-assembly summaries ("Failed: F, Passed: P, Skipped: S") into one closing line.
awk '/Failed: *[0-9]+, Passed: *[0-9]+, Skipped: *[0-9]+/ {
       for (i = 1; i <= NF; i++) { gsub(",", "", $(i+1)); if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit $status
