# Starts the release server built by `cargo leptos build --release` in the background, with the
# simulator off (unless TABRELAY_SIM_INTERVAL_MS is set), waits until it answers, and stops it when the calling script exits.
start_release_server() {
  local addr=$1
  LEPTOS_OUTPUT_NAME=tabrelay LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_SITE_ADDR="$addr" LEPTOS_ENV=PROD TABRELAY_SIM_INTERVAL_MS="${TABRELAY_SIM_INTERVAL_MS:-0}" RUST_LOG=warn \
    "${CARGO_TARGET_DIR:-target}/release/server" &
  RELEASE_SERVER_PID=$!
  trap 'kill $RELEASE_SERVER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    curl -fsS "http://$addr/api/stats" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the release server did not come up on $addr" >&2
  return 1
}
