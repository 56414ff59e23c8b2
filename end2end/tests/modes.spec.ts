/**
 * The four modes side by side on one server.
 *
 * `leader`, `storage` and `sharedworker` must keep the same promise, so one invariant suite runs
 * over all three: many tabs share one connection, and closing or crashing the tab that holds it
 * (any tab, for the worker, which holds it itself) keeps events flowing with none lost.
 *
 * `naive` is the baseline tabrelay exists to beat: every tab opens its own EventSource, and one
 * browser allows 6 HTTP/1.1 connections per host, so the 7th and 8th tabs starve.
 */
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import {
  closeContexts,
  crashPage,
  inject,
  openConnections,
  openTabs,
  expectEveryEventOnce,
  publishBurst,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

type SharingMode = "leader" | "storage" | "sharedworker";
/**
 * Each sharing mode, and storage once more with the protocol election: browsers old enough to
 * lack BroadcastChannel lack Web Locks too, so that is the pairing the storage mode exists for.
 */
const VARIANTS: Array<{ mode: SharingMode; query: string }> = [
  { mode: "leader", query: "mode=leader" },
  { mode: "storage", query: "mode=storage" },
  { mode: "storage", query: "mode=storage&election=protocol" },
  { mode: "sharedworker", query: "mode=sharedworker" },
];

test.beforeEach(async ({ request }) => {
  await waitForConnections(request, 0);
});
test.afterEach(async ({ browser }) => closeContexts(browser));

async function streamsByMode(request: APIRequestContext): Promise<Record<string, number>> {
  return (await (await request.get("/api/stats")).json()).streams_by_mode;
}

/**
 * Waits until `pages` share one connection in `mode` and returns the tab whose loss interrupts
 * the stream: the leader, or for the worker a tab that is not the first (the worker may live in
 * the first tab's process; losing any tab must not matter, the first included — see below).
 */
async function waitForSharing(mode: SharingMode, pages: Page[], request: APIRequestContext): Promise<Page> {
  await waitForConnections(request, 1);
  await expect.poll(async () => (await streamsByMode(request))[mode]).toBe(1);
  if (mode !== "sharedworker") return waitForOneLeader(pages);
  for (const page of pages) {
    await expect(page.locator("body")).toHaveAttribute("data-leader-id", "shared-worker");
    await expect(page.locator("body")).toHaveAttribute("data-role", "follower");
  }
  return pages[pages.length - 1];
}

for (const { mode, query } of VARIANTS) {
  test.describe(query, () => {
    const path = `/?${query}`;

    test("8 tabs in one browser share one connection", async ({ browser, request }) => {
      const context = await browser.newContext();
      const pages = await openTabs(context, 8, path);
      await waitForSharing(mode, pages, request);
      for (const page of pages) await expect(page.locator("body")).toHaveAttribute("data-mode", mode);
      const id = await inject(request, uniqueDevice(mode));
      await waitForEventEverywhere(pages, id);
      expect(await openConnections(request)).toBe(1);
    });

    test("closing and crashing the holder loses no event", async ({ browser, request }) => {
      const context = await browser.newContext();
      let alive = await openTabs(context, 5, path);
      await waitForSharing(mode, alive, request);

      const device = uniqueDevice(`${mode}-burst`);
      const { injected, done } = publishBurst(request, device, 120);
      let publishError: unknown;
      done.catch((err) => (publishError = err));

      for (const [kill, after] of [["close", 30], ["crash", 70]] as const) {
        await expect
          .poll(() => (publishError ? `publishing failed: ${publishError}` : injected.length))
          .toBeGreaterThanOrEqual(after);
        const holder = await waitForSharing(mode, alive, request);
        alive = alive.filter((p) => p !== holder);
        if (kill === "close") await holder.close();
        else await crashPage(context, holder);
      }
      await done;
      await waitForSharing(mode, alive, request);

      for (const page of alive) {
        await expectEveryEventOnce(page, injected);
      }
      expect(await openConnections(request)).toBe(1);
    });
  });
}

test("sharedworker: the first tab closing does not matter either", async ({ browser, request }) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 3, "/?mode=sharedworker");
  await waitForSharing("sharedworker", pages, request);
  await pages[0].close();
  const id = await inject(request, uniqueDevice("worker-first"));
  await waitForEventEverywhere(pages.slice(1), id);
  expect(await openConnections(request)).toBe(1);
});

test("storage: forged storage messages change nothing", async ({ browser, request }) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 3, "/?mode=storage");
  const leader = await waitForSharing("storage", pages, request);
  const leaderId = await leader.evaluate(() => document.body.dataset.tabId);
  const forger = pages.find((p) => p !== leader)!;
  const others = pages.filter((p) => p !== forger);
  const ignored = (page: Page) => page.evaluate(() => Number(document.body.dataset.ignoredMessages));
  const before = await Promise.all(others.map(ignored));

  await forger.evaluate(() => {
    const forge = (value: string) => {
      localStorage.setItem(`tabrelay-msg:forged:${Math.random()}`, value);
    };
    forge("not json");
    forge(JSON.stringify({ app: "someone-else", type: "relay" }));
    forge(JSON.stringify({ app: "tabrelay", v: 3, from: 1, type: "relay" }));
    // Someone else's key: not ours, not even counted.
    localStorage.setItem("unrelated", "x");
  });
  for (const [i, page] of others.entries()) {
    await expect.poll(() => ignored(page)).toBeGreaterThanOrEqual(before[i] + 3);
  }
  const id = await inject(request, uniqueDevice("storage-forged"));
  await waitForEventEverywhere(pages, id);
  for (const page of pages) {
    expect(await page.evaluate(() => document.body.dataset.leaderId)).toBe(leaderId);
  }
  // A new tab sweeps the orphaned message keys the forger left behind.
  await openTabs(context, 1, "/?mode=storage");
  expect(await forger.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("tabrelay-msg:")))).toEqual([]);
});

test("leader and storage tabs open side by side elect one leader each", async ({ browser, request }) => {
  const context = await browser.newContext();
  const leaderTabs = await openTabs(context, 3, "/?mode=leader");
  const storageTabs = await openTabs(context, 3, "/?mode=storage");
  await waitForOneLeader(leaderTabs);
  await waitForOneLeader(storageTabs);
  await waitForConnections(request, 2);
  expect(await streamsByMode(request)).toMatchObject({ leader: 1, storage: 1 });
});

test("naive: 8 tabs in one browser → 6 connections, 2 tabs starved", async ({ browser, request }) => {
  const context = await browser.newContext();
  const pages: Page[] = [];
  for (let i = 0; i < 8; i++) {
    const page = await context.newPage();
    // Not awaited: the last two navigations never finish (no connection is free for them).
    page.goto("/?mode=naive").catch(() => {});
    pages.push(page);
  }
  await waitForConnections(request, 6);

  const id = await inject(request, uniqueDevice("naive"));
  // A tab whose page never loaded cannot answer: Playwright's `evaluate` waits for a document
  // that never comes. Such a tab is starved, so after a moment the answer is no.
  const received = (page: Page) =>
    Promise.race([
      page.evaluate((id) => document.querySelector(`[data-event-id="${id}"]`) !== null, id).catch(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000)),
    ]);
  // The event is the clock: once 6 tabs have it, the other 2 had every chance to get it too.
  await expect
    .poll(async () => (await Promise.all(pages.map(received))).filter(Boolean).length, {
      message: "the six connected tabs receive the event",
    })
    .toBe(6);
  const starved = [];
  for (const page of pages) if (!(await received(page))) starved.push(page);
  // Starved: depending on timing their page did not even load, or it loaded but its stream
  // waits for a connection that never frees up. Either way, no events.
  expect(starved).toHaveLength(2);
  expect(await openConnections(request)).toBe(6);
  expect((await streamsByMode(request)).naive).toBe(6);
});

test("a browser without what the mode needs falls back to one that works, and says so", async ({ browser, request }) => {
  // Chrome on Android has no SharedWorker; old Safari no BroadcastChannel.
  const context = await browser.newContext();
  await context.addInitScript(() => {
    delete (window as any).SharedWorker;
    if (location.search.includes("no-broadcast")) delete (window as any).BroadcastChannel;
  });
  const workerless = await openTabs(context, 2, "/?mode=sharedworker");
  await waitForOneLeader(workerless);
  for (const page of workerless) {
    await expect(page.locator("body")).toHaveAttribute("data-mode", "leader");
    await expect(page.locator("#mode-fallback")).toContainText("sharedworker needs what this browser lacks");
  }
  const channelless = await openTabs(context, 2, "/?mode=leader&no-broadcast");
  await waitForOneLeader(channelless);
  for (const page of channelless) await expect(page.locator("body")).toHaveAttribute("data-mode", "storage");
  await waitForConnections(request, 2);
  expect(await streamsByMode(request)).toMatchObject({ leader: 1, storage: 1, sharedworker: 0 });
  const id = await inject(request, uniqueDevice("fallback"));
  await waitForEventEverywhere([...workerless, ...channelless], id);
});
