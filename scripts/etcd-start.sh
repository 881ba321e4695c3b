#!/usr/bin/env bash
# Starts a single-member etcd on loopback with its data in a new temporary directory, for trying
# the etcd store by hand. Prints the client URL, the PID and the data directory; stop it with
# scripts/etcd-stop.sh DATA_DIR. (Tests and benchmarks start their own etcd the same way.)
# Usage: scripts/etcd-start.sh [CLIENT_PORT] [PEER_PORT]
set -euo pipefail
client_port=${1:-23790}
peer_port=${2:-23800}
data_dir=$(mktemp -d /tmp/orch-etcd-XXXXXX)
etcd --name orch --data-dir "$data_dir/data" \
  --listen-client-urls "http://127.0.0.1:$client_port" --advertise-client-urls "http://127.0.0.1:$client_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "orch=http://127.0.0.1:$peer_port" --log-level warn >"$data_dir/etcd.log" 2>&1 &
echo $! >"$data_dir/etcd.pid"
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$client_port/health" 2>/dev/null | grep -q '"health":"true"'; then
    echo "etcd: http://127.0.0.1:$client_port pid $(cat "$data_dir/etcd.pid") data $data_dir"
    exit 0
  fi
  sleep 0.1
done
echo "etcd did not become healthy; see $data_dir/etcd.log" >&2
kill "$(cat "$data_dir/etcd.pid")" 2>/dev/null || true
exit 1
