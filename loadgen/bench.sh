#!/usr/bin/env bash
# Runs the SSE fan-out benchmark on loopback: builds the server and the load generator in
# release mode, raises the open-file limit (each stream is one socket on each side), and lets the
# load generator start and stop the server itself.
#
#   loadgen/bench.sh            # 1,000 streams
#   loadgen/bench.sh 10000      # 10,000 streams
set -euo pipefail
cd "$(dirname "$0")/.."
streams="${1:-1000}"
# Each process needs one descriptor per stream plus a few; raise the soft limit up to the hard one.
ulimit -n "$(ulimit -Hn)" || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((streams + 100)) ]; then
  echo "open-file limit $(ulimit -n) is too low for $streams streams" >&2
  exit 1
fi
cargo build --release -p server -p loadgen
exec target/release/loadgen --streams "$streams" --addr 127.0.0.1:3999 \
  --spawn target/release/server --round-interval-ms 1000 "${@:2}"
