#!/usr/bin/env bash
# Runs the SSE fan-out benchmark on loopback: builds the server and the load generator in
# release mode, raises the open-file limit (each stream is one socket on each side), and lets the
# load generator start and stop the server itself.
#
#   loadgen/bench.sh            # 1,000 streams
#   loadgen/bench.sh 10000      # 10,000 streams
#   loadgen/bench.sh 50000      # beyond one process's open-file limit: see below
#
# Each side needs one descriptor per stream. Beyond the open-file limit (`ulimit -Hn`, which
# only root with CAP_SYS_RESOURCE can raise), the load generator holds the streams in several
# processes (it does so by itself) and the server side becomes several replicas sharing a Redis
# bus (`--bus redis --replicas R`, added here; needs redis-server), each under the limit.
set -euo pipefail
cd "$(dirname "$0")/.."
streams="${1:-1000}"
ulimit -n "$(ulimit -Hn)" || true
limit="$(ulimit -n)"
deployment=()
if [ "$limit" != unlimited ] && [ $((streams + 200)) -gt "$limit" ]; then
  per_replica=$((limit - 500))
  replicas=$(((streams + per_replica - 1) / per_replica))
  echo "open-file limit $limit < $streams streams: $replicas replicas sharing a Redis bus" >&2
  deployment=(--bus redis --replicas "$replicas")
fi
# The server as every other script builds it (`cargo leptos build`): a plain `cargo build -p server`
# would rebuild that binary without the `LEPTOS_*` build environment cargo-leptos gives it,
# which the pages it serves need.
export PATH="$HOME/.cargo/bin:$PATH"
cargo leptos build --release --project tabrelay
cargo build --release -p loadgen
# The kernel's floor first (`floor.py`: a bare `send` of a frame-sized chunk to each of N
# loopback sockets drained by a reader, no HTTP, no runtime), so that the server's CPU per stream
# is printed against what this machine's kernel costs right now: the machine's speed drifts by
# half within an hour, the ratio much less. With `--acks reader` the floor's reader ACKs too;
# `--reader-nice` and `--reader-sched` have no counterpart there. Only with one server and up to
# 20,000 streams (floor.py connects from one source address, ~28,000 ports); if it fails, the
# benchmark runs without it. `BENCH_FLOOR=0` skips it.
floor=""
floor_acks=kernel
case " ${*:2} " in *" --acks reader "* | *" --acks=reader "*) floor_acks=reader ;; esac
if [ "${BENCH_FLOOR:-1}" != 0 ] && [ ${#deployment[@]} -eq 0 ] && [ "$streams" -le 20000 ]; then
  floor="$(python3 loadgen/floor.py "$streams" 20 0 "$floor_acks" |
    awk '/^writer sys CPU \/ write/ {print $6}')" || floor=""
  [ -n "$floor" ] || echo "floor.py failed: no ratio to the kernel's floor" >&2
fi
# Port 0: the load generator picks free ports (replica i on the first + i), so two benchmarks
# or another server on the machine do not collide. `fan-out at socket` (kernel receive
# timestamps) shows the server's fan-out without the load generator's own wait for a core.
# `loadgen/bench.sh N --reader-nice 19` also lets the server's writers have the cores first; not
# the default: next to other busy processes, readers at nice 19 starve (a 50,000-stream run
# timed out waiting for them).
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
target/release/loadgen --streams "$streams" --addr "127.0.0.1:0" \
  --spawn target/release/server --round-interval-ms 1000 "${deployment[@]}" "${@:2}" | tee "$out"
if [ -n "$floor" ]; then
  # loadgen prints CPU per event to 0.1 ms: per stream that is 0.01 us at 10,000 streams.
  awk -v floor="$floor" -v streams="$streams" -v acks="$floor_acks" '
    /^server CPU \/ event/ { per = $5 * 1000 / streams }
    END {
      printf "kernel floor / write   %.2f us (python3 loadgen/floor.py %d 20 0 %s, right before)\n", floor, streams, acks
      digits = streams >= 10000 ? "%.2f" : "%.1f"
      if (per != "" && floor > 0)
        printf "server CPU / stream    " digits " us (%.2fx the kernel floor)\n", per, per / floor
    }' "$out"
fi
