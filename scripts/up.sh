#!/usr/bin/env bash
# Starts a one-process cluster on its embedded defaults: `orch up` with the SQLite store under
# ~/.orch, the API server on https://127.0.0.1:6443, an admin kubeconfig at ~/.orch/kubeconfig, and
# one node running real containers in a containerd that orch starts under ~/.orch/containerd (needs
# root; `--runtime simulated` or `--runtime none` run without it). Extra arguments go to `orch up`
# (see `orch up --help`). Ctrl-C stops it and everything it started; starting again keeps the
# cluster. A killed orch leaves containerd and the containers running, and the next start adopts them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build-images.sh >/dev/null
dotnet build -c Release src/Orchestration.Cli -v quiet -nologo
exec dotnet src/Orchestration.Cli/bin/Release/net10.0/orch.dll up "$@"
