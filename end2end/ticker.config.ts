import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

/**
 * The example app's suite (`examples/ticker`): run by `cargo leptos end-to-end` for the project
 * `ticker` (which builds and starts the ticker's own server first), or by
 * `npx playwright test --config=ticker.config.ts` against one you started yourself. Everything
 * but the tests' folder and the server is the dashboard suite's configuration.
 */
export default defineConfig({
  ...base,
  testDir: "./ticker",
  use: { ...base.use, baseURL: process.env.TICKER_BASE_URL ?? "http://127.0.0.1:3004" },
});
