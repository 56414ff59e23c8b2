/**
 * Rendering is paced (issue #19): the dashboard renders at most once per frame, a hidden tab
 * defers its rendering, and `?ui=off` renders no event at all; in every case the tab still takes
 * in, relays and counts every event, and what it shows in the end is every event once, in order.
 *
 * A hidden page is emulated (headless Chromium shows every page as visible): the page's
 * `document.visibilityState` is overridden and `visibilitychange` fired, as the runtime and the
 * dashboard read them.
 */
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import {
  closeContexts,
  inject,
  openTabs,
  renderedEventIds,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

test.beforeEach(async ({ request }) => {
  await waitForConnections(request, 0);
});
test.afterEach(async ({ browser }) => closeContexts(browser));

/** Installed before the page's scripts: `window.__setHidden(bool)` hides or shows the page. */
function hideable() {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { get: () => hidden });
  (window as unknown as { __setHidden: (h: boolean) => void }).__setHidden = (value: boolean) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
  };
}

const setHidden = (page: Page, hidden: boolean) =>
  page.evaluate((h) => (window as unknown as { __setHidden: (h: boolean) => void }).__setHidden(h), hidden);
const received = (page: Page) => page.evaluate(() => Number(document.body.dataset.eventsReceived));
const published = async (request: APIRequestContext) =>
  (await (await request.get("/api/stats")).json()).events_published as number;

/**
 * The server's published total and each tab's count at a quiet moment: both unchanged over two
 * consecutive polls. The simulator may publish at any time (CI runs it), so a tab is checked
 * against what the server published since, whoever published it.
 */
async function quietBaseline(request: APIRequestContext, pages: Page[]) {
  const sample = async () => [await published(request), ...(await Promise.all(pages.map(received)))];
  let previous: number[] = [];
  await expect
    .poll(
      async () => {
        const now = await sample();
        const quiet = now.join() === previous.join();
        previous = now;
        return quiet;
      },
      { message: "a quiet moment to take the baseline", intervals: [250] },
    )
    .toBe(true);
  const [total, ...counts] = previous;
  return { total, counts };
}

async function expectEveryPublishedEventCounted(
  request: APIRequestContext,
  pages: Page[],
  baseline: { total: number; counts: number[] },
) {
  for (const [i, page] of pages.entries()) {
    await expect
      .poll(async () => (await received(page)) - baseline.counts[i] - ((await published(request)) - baseline.total), {
        message: "every published event counted, hidden or not",
      })
      .toBe(0);
  }
}

test("a hidden tab counts and relays every event, and shows them all, in order, once visible", async ({
  browser,
  request,
}) => {
  const context = await browser.newContext();
  await context.addInitScript(hideable);
  const pages = await openTabs(context, 3);
  const leader = await waitForOneLeader(pages);
  const [hiddenFollower] = pages.filter((p) => p !== leader);
  const baseline = await quietBaseline(request, pages);
  // The leader hidden too: it still holds the stream and relays.
  await setHidden(leader, true);
  await setHidden(hiddenFollower, true);
  await expect.poll(() => leader.evaluate(() => document.visibilityState)).toBe("hidden");

  const device = uniqueDevice("hidden");
  const ids: number[] = [];
  for (let i = 0; i < 30; i++) ids.push(await inject(request, device, i % 2 ? "offline" : "online"));
  await expectEveryPublishedEventCounted(request, pages, baseline);

  await setHidden(leader, false);
  await setHidden(hiddenFollower, false);
  await waitForEventEverywhere(pages, ids.at(-1)!);
  for (const page of pages) {
    const shown = (await renderedEventIds(page)).filter((id) => ids.includes(id));
    expect(shown, "every event once, newest first").toEqual([...ids].reverse());
  }
});

test("?ui=off runs the library without the dashboard: it relays and counts every event and renders none", async ({
  browser,
  request,
}) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 2, "/?ui=off");
  const leader = await waitForOneLeader(pages);
  const follower = pages.find((p) => p !== leader)!;
  const baseline = await quietBaseline(request, [follower]);
  const device = uniqueDevice("uioff");
  for (let i = 0; i < 5; i++) await inject(request, device, "online");
  await expectEveryPublishedEventCounted(request, [follower], baseline);
  await expect(follower.locator("[data-event-id]")).toHaveCount(0);
  await expect(follower.locator(".panel")).toHaveCount(0);
  await waitForConnections(request, 1);
});
