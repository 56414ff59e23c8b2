#!/usr/bin/env node
/**
 * Takes the README's screenshot: three tabs of one browser, leader first, then two followers,
 * stitched side by side in the browser itself (no image tools needed). Run by scripts/screenshot.
 */
import { chromium } from "@playwright/test";
import { writeFileSync } from "node:fs";

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const BASE = args.base ?? "http://127.0.0.1:3000";
const OUT = args.out ?? "docs/screenshot.png";
const VIEWPORT = { width: 520, height: 1500 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: "light" });
const pages = [];
for (let i = 0; i < 3; i++) {
  const page = await context.newPage();
  await page.goto(BASE);
  pages.push(page);
}
const role = (p) => p.evaluate(() => document.body.dataset.role);
for (;;) {
  const roles = await Promise.all(pages.map(role));
  if (roles.filter((r) => r === "leader").length === 1 && roles.filter((r) => r === "follower").length === 2) break;
  await new Promise((r) => setTimeout(r, 50));
}
// Let a few simulator events arrive so the log and the sparkline have something to show.
await pages[0].waitForFunction(() => Number(document.body.dataset.eventsReceived) >= 3, null, { timeout: 30_000 });
const ordered = [];
for (const wanted of ["leader", "follower"]) for (const p of pages) if ((await role(p)) === wanted) ordered.push(p);
const shots = await Promise.all(ordered.map((p) => p.screenshot()));

const canvas = await context.newPage();
await canvas.setViewportSize({ width: VIEWPORT.width * 3 + 40, height: VIEWPORT.height + 20 });
await canvas.setContent(
  `<body style="margin:0;padding:10px;background:#8c959f;display:flex;gap:10px">${shots
    .map((s) => `<img src="data:image/png;base64,${s.toString("base64")}" style="border-radius:6px">`)
    .join("")}</body>`,
);
writeFileSync(OUT, await canvas.screenshot());
console.log(`wrote ${OUT}`);
await browser.close();
