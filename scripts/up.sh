#!/usr/bin/env bash
# Starts a one-process cluster on its embedded defaults: `orch up` with the SQLite store under
# ~/.orch, the API server on https://127.0.0.1:6443 and an admin kubeconfig at ~/.orch/kubeconfig.
# Extra arguments go to `orch up` (see `orch up --help`). Ctrl-C stops it; starting again keeps
# everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build-images.sh >/dev/null
dotnet build -c Release src/Orchestration.Cli -v quiet -nologo
exec dotnet src/Orchestration.Cli/bin/Release/net10.0/orch.dll up "$@"
