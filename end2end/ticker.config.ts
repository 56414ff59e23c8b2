import { defineConfig, devices } from "@playwright/test";

/**
 * The example app's suite (`examples/ticker`): run by `cargo leptos end-to-end` for the project
 * `ticker` (which builds and starts the ticker's own server first), or by
 * `npx playwright test --config=ticker.config.ts` against one you started yourself.
 *
 * Debian's Chromium only (`scripts/setup` installs it): `npx playwright install` would try to
 * download a browser, which cannot work here. Tests open many tabs at once, so they run one at a
 * time: on a 2-core machine parallel workers only make each other slow.
 */
export default defineConfig({
  testDir: "./ticker",
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: "list",
  use: {
    baseURL: process.env.TICKER_BASE_URL ?? "http://127.0.0.1:3004",
    actionTimeout: 15_000,
    // Actions, console and network, but no DOM snapshots or screenshots: with 20 tabs open those
    // tripled the time of a test (16 s → 50 s) and made it time out on a slower CI machine.
    trace: { mode: "retain-on-failure", snapshots: false, screenshots: false },
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          // This machine has no network but loopback: stop Chromium from phoning home.
          args: [
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
          ],
        },
      },
    },
  ],
});
