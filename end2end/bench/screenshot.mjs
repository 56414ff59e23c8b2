#!/usr/bin/env node
/**
 * Takes the README's pictures (run by scripts/screenshot against a release server with the
 * simulator on): four tabs of one browser, the leader is closed, and once a follower's leadership
 * timeline shows that failover and a few events have arrived:
 *   - `--out` (docs/screenshot.png): a follower at 1440 px wide;
 *   - `--out-narrow` (docs/screenshot-390.png): another follower at 390 × 844 (a phone), the
 *     first screen.
 */
import { chromium } from "@playwright/test";
import { writeFileSync } from "node:fs";

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const BASE = args.base ?? "http://127.0.0.1:3000";
const OUT = args.out ?? "docs/screenshot.png";
const OUT_NARROW = args["out-narrow"] ?? "docs/screenshot-390.png";
// Tall enough for the event log: rows out of sight are not painted (`content-visibility`), so a
// full-page screenshot of a shorter viewport shows them empty.
const WIDE = { width: 1440, height: 1500 };
const NARROW = { width: 390, height: 844 };
const TIMEOUT = 30_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const context = await browser.newContext({ viewport: WIDE, colorScheme: "light" });
const pages = [];
for (let i = 0; i < 4; i++) {
  const page = await context.newPage();
  await page.goto(BASE);
  pages.push(page);
}
const role = (p) => p.evaluate(() => document.body.dataset.role);
const oneLeader = async (candidates) => {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const roles = await Promise.all(candidates.map(role));
    if (roles.filter((r) => r === "leader").length === 1 && roles.every((r) => r === "leader" || r === "follower")) {
      return candidates[roles.indexOf("leader")];
    }
    if (Date.now() > deadline) throw new Error(`no single leader: ${roles}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

// One failover, so the timeline has something to show: the first leader closes.
const first = await oneLeader(pages);
await first.close();
const rest = pages.filter((p) => p !== first);
const leader = await oneLeader(rest);
const [wide, narrow] = rest.filter((p) => p !== leader);
for (const page of [wide, narrow]) {
  await page.locator("[data-testid=timeline-entry]").first().waitFor({ timeout: TIMEOUT });
  // A few simulator events after the failover, so the log, the grid and the sparkline are alive.
  await page.waitForFunction(() => Number(document.body.dataset.eventsReceived) >= 6, null, { timeout: TIMEOUT });
}
// The shots show the steady state: one stream, the counters on screen caught up.
const settledDeadline = Date.now() + TIMEOUT;
for (;;) {
  const open = (await (await fetch(`${BASE}/api/stats`)).json()).open_connections;
  const shown = await Promise.all([wide, narrow].map((p) => p.locator("#open-connections").textContent().catch(() => null)));
  if (open === 1 && shown.every((t) => t === null || t.trim() === "1")) break;
  if (Date.now() > settledDeadline) throw new Error(`not settled: ${open} streams, shown ${shown}`);
  await new Promise((r) => setTimeout(r, 100));
}
writeFileSync(OUT, await wide.screenshot());
console.log(`wrote ${OUT}`);
await narrow.setViewportSize(NARROW);
await narrow.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
writeFileSync(OUT_NARROW, await narrow.screenshot());
console.log(`wrote ${OUT_NARROW}`);
await browser.close();
