/**
 * The back/forward cache: a tab navigates away and comes back (`pageshow` with `persisted`). It
 * must really be restored from the cache (not reloaded), rejoin the other tabs and catch up by id
 * on the events published while it was away: each exactly once.
 *
 * Playwright starts Chromium with `--disable-back-forward-cache`; this file lets the cache work.
 */
import { expect, test, type Page } from "@playwright/test";
import {
  closeContexts,
  expectEveryEventOnce,
  inject,
  openTabs,
  tabIdOf,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    ignoreDefaultArgs: ["--disable-back-forward-cache"],
  },
});

test.beforeEach(async ({ request }) => waitForConnections(request, 0));
test.afterEach(async ({ browser }) => closeContexts(browser));

/** Why Chromium did not restore `page` from the cache, if it says. */
async function notRestoredReasons(page: Page): Promise<string> {
  return page.evaluate(() => {
    const entry = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming & {
      notRestoredReasons?: unknown;
    };
    return JSON.stringify(entry?.notRestoredReasons ?? null);
  });
}

for (const query of ["mode=leader", "mode=leader&election=protocol", "mode=storage", "mode=sharedworker"]) {
  test(`${query}: a follower leaves into the bfcache and comes back caught up`, async ({ browser, request, baseURL }) => {
    const context = await browser.newContext();
    const pages = await openTabs(context, 3, `/?${query}`);
    await waitForConnections(request, 1);
    const worker = query.includes("sharedworker");
    const leader = worker ? pages[0] : await waitForOneLeader(pages);
    const follower = pages.find((p) => p !== leader)!;
    const followerId = await tabIdOf(follower);
    const first = await inject(request, uniqueDevice("bf-before"));
    await waitForEventEverywhere(pages, first);
    await follower.evaluate(() => {
      (window as any).__restores = 0;
      addEventListener("pageshow", (e) => {
        if (e.persisted) (window as any).__restores += 1;
      });
    });

    await follower.goto(`${baseURL}/api/stats`);
    const away: number[] = [];
    for (let i = 0; i < 3; i++) away.push(await inject(request, uniqueDevice(`bf-away${i}`)));
    await waitForEventEverywhere(pages.filter((p) => p !== follower), away.at(-1)!);
    // A page restored from the bfcache fires no `load`: wait for the navigation to commit only.
    await follower.goBack({ waitUntil: "commit" });

    const restores = await follower.evaluate(() => (window as any).__restores ?? 0);
    expect(restores, `restored from the bfcache, not reloaded: ${await notRestoredReasons(follower)}`).toBe(1);
    expect(await tabIdOf(follower), "the same page came back").toBe(followerId);
    await expectEveryEventOnce(follower, [first, ...away]);
    const later = await inject(request, uniqueDevice("bf-after"));
    await waitForEventEverywhere(pages, later);
    await waitForConnections(request, 1);
    if (!worker) await waitForOneLeader(pages);
  });
}
