/**
 * While every tab is hidden the leader relays its stream in batches (`Body::Relays`, issue #19):
 * one channel message per batch instead of one per event. No event may be lost or reordered on
 * the way, also when the leader closes or crashes with a batch not yet posted. Hidden pages are
 * emulated as in rendering.spec.ts.
 */
import { expect, test, type Page } from "@playwright/test";
import {
  closeContexts,
  crashPage,
  hideable,
  openTabs,
  publishBurst,
  renderedEventIds,
  setHidden,
  uniqueDevice,
  waitForConnections,
  waitForOneLeader,
} from "./support";

test.beforeEach(async ({ request }) => waitForConnections(request, 0));
test.afterEach(async ({ browser }) => closeContexts(browser));

/**
 * Installed before the page's scripts (with `hideable`): `window.__posted` counts the tabrelay
 * messages the page posts by type, and the events it posted in batches (`relayed-in-batches`).
 */
function instrument() {
  const w = window as unknown as Record<string, unknown>;
  const posted: Record<string, number> = {};
  w.__posted = posted;
  const post = BroadcastChannel.prototype.postMessage;
  BroadcastChannel.prototype.postMessage = function (message: unknown) {
    try {
      const { type, events } = JSON.parse(String(message));
      posted[type] = (posted[type] ?? 0) + 1;
      if (Array.isArray(events)) posted["relayed-in-batches"] = (posted["relayed-in-batches"] ?? 0) + events.length;
    } catch {
      // not ours
    }
    return post.call(this, message);
  };
}

const posted = (page: Page) =>
  page.evaluate(() => ({ ...(window as unknown as { __posted: Record<string, number> }).__posted }));

test("every tab hidden: relays come in batches, and none is lost or reordered while the leader dies three times", async ({
  browser,
  request,
}) => {
  const context = await browser.newContext();
  await context.addInitScript(hideable);
  await context.addInitScript(instrument);
  const pages = await openTabs(context, 6);
  await waitForOneLeader(pages);
  await waitForConnections(request, 1);
  for (const page of pages) await setHidden(page, true);

  const device = uniqueDevice("hidden-batch");
  const { injected, done } = publishBurst(request, device, 200);
  let publishError: unknown;
  done.catch((err) => (publishError = err));
  let alive = pages;
  const batches = { relay: 0, relays: 0, inBatches: 0 };
  const count = async (page: Page) => {
    const p = await posted(page);
    batches.relay += p.relay ?? 0;
    batches.relays += p.relays ?? 0;
    batches.inBatches += p["relayed-in-batches"] ?? 0;
  };
  for (const [kill, after] of [
    ["close", 40],
    ["crash", 90],
    ["close", 140],
  ] as const) {
    await expect
      .poll(() => (publishError ? `publishing failed: ${publishError}` : injected.length))
      .toBeGreaterThanOrEqual(after);
    const leader = await waitForOneLeader(alive);
    alive = alive.filter((p) => p !== leader);
    await count(leader);
    if (kill === "close") await leader.close();
    else await crashPage(context, leader);
  }
  await done;
  const leader = await waitForOneLeader(alive);
  await count(leader);
  expect(injected).toHaveLength(200);
  console.log(`hidden relay, posted by the leaders: ${JSON.stringify(batches)}`);
  // Most of it went out in batches, several events per message (a leader relays one by one only
  // while it knows of no other tab, and for resends: the gap a dead leader's last batch left).
  expect(batches.inBatches, JSON.stringify(batches)).toBeGreaterThanOrEqual(100);
  expect(batches.relays, JSON.stringify(batches)).toBeLessThan(batches.inBatches / 2);

  // Every tab counted every event while hidden; shown, each shows them once, newest first.
  for (const page of alive) {
    await expect
      .poll(async () => (await renderedEventIds(page)).filter((id) => injected.includes(id)).length, {
        message: "every event reached this hidden tab",
      })
      .toBe(injected.length);
    await setHidden(page, false);
    const shown = (await renderedEventIds(page)).filter((id) => injected.includes(id));
    expect(shown, "every event once, in order").toEqual([...injected].reverse());
  }
  await context.close();
});
