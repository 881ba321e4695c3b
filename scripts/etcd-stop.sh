#!/usr/bin/env bash
# Stops an etcd started by scripts/etcd-start.sh, by the PID it recorded, and deletes its data.
# Usage: scripts/etcd-stop.sh DATA_DIR
set -euo pipefail
data_dir=${1:?usage: scripts/etcd-stop.sh DATA_DIR}
if [ -f "$data_dir/etcd.pid" ]; then
  pid=$(cat "$data_dir/etcd.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -rf "$data_dir"
