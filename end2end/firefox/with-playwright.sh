#!/usr/bin/env bash
# What `cargo leptos end-to-end` runs (end2end-cmd in the root Cargo.toml), in end2end/, while the
# release server it started listens on 127.0.0.1:3000: the Playwright suite in Chromium, then the
# Firefox suite against the same server. Both run even if the first fails, so one CI run reports
# both engines; the exit status fails if either did.
#
# The Firefox suite rides on this server rather than starting its own: cargo-leptos has already
# built and started the exact bundle Playwright tests, with the simulator off, and stops it after.
set -u
cd "$(dirname "$0")/.."

npx playwright test
playwright=$?

echo
echo "== Firefox suite (node firefox/run.mjs, Debian firefox-esr over WebDriver BiDi)"
node firefox/run.mjs
firefox=$?

if [ "$playwright" -ne 0 ] || [ "$firefox" -ne 0 ]; then
  echo "end-to-end: playwright exit $playwright, firefox exit $firefox" >&2
  exit 1
fi
