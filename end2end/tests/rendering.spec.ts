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
  hideable,
  inject,
  openTabs,
  renderedEventIds,
  setHidden,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

test.beforeEach(async ({ request }) => {
  await waitForConnections(request, 0);
});
test.afterEach(async ({ browser }) => closeContexts(browser));

const received = (page: Page) => page.evaluate(() => Number(document.body.dataset.eventsReceived));
const published = async (request: APIRequestContext) =>
  (await (await request.get("/api/stats")).json()).events_published as number;

/**
 * How far each tab's count is from the server's published total. The simulator may publish at any
 * time (CI runs it), so a tab is checked against what the server published, whoever published it:
 * the offset only moves while an event is on its way (published, not yet counted), so the
 * baseline is an offset read the same three polls in a row.
 */
const offsets = async (request: APIRequestContext, pages: Page[]) => {
  const total = await published(request);
  return (await Promise.all(pages.map(received))).map((count) => count - total);
};

async function steadyOffsets(request: APIRequestContext, pages: Page[]) {
  const seen: string[] = [];
  await expect
    .poll(
      async () => {
        seen.push((await offsets(request, pages)).join());
        return seen.length >= 3 && new Set(seen.slice(-3)).size === 1;
      },
      { message: "each tab's count steady against the server's total", intervals: [100] },
    )
    .toBe(true);
  return seen.at(-1)!;
}

/** Every tab has counted every event the server published since `baseline` was taken. */
async function expectEveryPublishedEventCounted(request: APIRequestContext, pages: Page[], baseline: string) {
  await expect
    .poll(async () => (await offsets(request, pages)).join(), {
      message: "every published event counted, hidden or not",
    })
    .toBe(baseline);
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
  const baseline = await steadyOffsets(request, pages);
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
  const baseline = await steadyOffsets(request, [follower]);
  const device = uniqueDevice("uioff");
  for (let i = 0; i < 5; i++) await inject(request, device, "online");
  await expectEveryPublishedEventCounted(request, [follower], baseline);
  await expect(follower.locator("[data-event-id]")).toHaveCount(0);
  await expect(follower.locator(".panel")).toHaveCount(0);
  await waitForConnections(request, 1);
});
