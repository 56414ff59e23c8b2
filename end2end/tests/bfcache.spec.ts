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

    // Chromium's own reasons, which the page's `notRestoredReasons` may only call "masked".
    const cdp = await context.newCDPSession(follower);
    await cdp.send("Page.enable");
    const notUsed: string[] = [];
    cdp.on("Page.backForwardCacheNotUsed", (e) =>
      notUsed.push(...e.notRestoredExplanations.map((x) => `${x.type}:${x.reason}`)),
    );
    await follower.goto(`${baseURL}/api/stats`);
    const away: number[] = [];
    for (let i = 0; i < 3; i++) away.push(await inject(request, uniqueDevice(`bf-away${i}`)));
    await waitForEventEverywhere(pages.filter((p) => p !== follower), away.at(-1)!);
    // A page restored from the bfcache fires no `load`: wait for the navigation to commit only.
    await follower.goBack({ waitUntil: "commit" });

    const restores = await follower.evaluate(() => (window as any).__restores ?? 0);
    expect(
      restores,
      `restored from the bfcache, not reloaded: ${await notRestoredReasons(follower)}; Chromium: ${notUsed.join(", ")}`,
    ).toBe(1);
    expect(await tabIdOf(follower), "the same page came back").toBe(followerId);
    await expectEveryEventOnce(follower, [first, ...away]);
    const later = await inject(request, uniqueDevice("bf-after"));
    await waitForEventEverywhere(pages, later);
    await waitForConnections(request, 1);
    if (!worker) await waitForOneLeader(pages);
  });
}

// The leader releases its Web Lock (and closes its stream) in `pagehide`, before it knows whether
// the page is closing or entering the cache. Back from the cache it must not lead a second time
// beside the tab that took over: it rejoins as a follower of the new leader.
for (const query of ["mode=leader", "mode=leader&election=protocol", "mode=storage"]) {
  test(`${query}: the leader leaves into the bfcache; another tab leads; back, it follows`, async ({ browser, request, baseURL }) => {
    const context = await browser.newContext();
    const pages = await openTabs(context, 3, `/?${query}`);
    await waitForConnections(request, 1);
    const leader = await waitForOneLeader(pages);
    const leaderId = await tabIdOf(leader);
    const others = pages.filter((p) => p !== leader);
    await leader.evaluate(() => {
      (window as any).__restores = 0;
      addEventListener("pageshow", (e) => {
        if (e.persisted) (window as any).__restores += 1;
      });
    });

    await leader.goto(`${baseURL}/api/stats`);
    const next = await waitForOneLeader(others);
    const nextId = await tabIdOf(next);
    const away = await inject(request, uniqueDevice("bf-leader-away"));
    await waitForEventEverywhere(others, away);
    await leader.goBack({ waitUntil: "commit" });

    const restores = await leader.evaluate(() => (window as any).__restores ?? 0);
    // Chromium keeps no page in the cache that held a Web Lock (its reason is "masked"), even one
    // released in `pagehide`: with the lock election it comes back as a reload, a new tab. Without
    // locks (the protocol election) it must really come back.
    const locks = !query.includes("election=protocol");
    if (!locks && restores !== 1) {
      // Chromium sometimes keeps a page out of the cache for a reason it does not disclose
      // ("masked": eviction, a race with another tab; seen once in ~25 CI runs of this test).
      // Any reason it names is ours to fix, and fails here.
      const why = JSON.parse(await notRestoredReasons(leader));
      const named = ((why?.reasons ?? []) as { reason: string }[]).map((r) => r.reason).filter((r) => r !== "masked");
      expect(named, `kept out of the bfcache for a reason Chromium names: ${JSON.stringify(why)}`).toEqual([]);
    }
    if (restores === 1) expect(await tabIdOf(leader), "the same page came back").toBe(leaderId);
    // Back as a reload, it is a new tab, owed only what is published once it has joined (CI
    // once published before that, with the storage channel, and the new tab never saw it).
    await waitForOneLeader(pages);
    const after = await inject(request, uniqueDevice("bf-leader-after"));
    await waitForEventEverywhere(pages, after);
    await expectEveryEventOnce(leader, restores === 1 ? [away, after] : [after]);
    expect(await tabIdOf(await waitForOneLeader(pages)), "the tab that took over still leads").toBe(nextId);
    await waitForConnections(request, 1);
  });
}
