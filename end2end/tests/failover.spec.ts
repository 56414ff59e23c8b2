/**
 * The browser runtime on the coordination core, in real Chromium, for both election mechanisms:
 * one leader and one connection for many tabs, failover on close / crash / freeze, no event lost
 * while leaders die, and forged channel messages change nothing.
 */
import { expect, test } from "@playwright/test";
import {
  ELECTIONS,
  closeContexts,
  crashPage,
  inject,
  openTabs,
  expectEveryEventOnce,
  publishBurst,
  roleOf,
  freezePage,
  tabIdOf,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

test.afterEach(async ({ browser }) => closeContexts(browser));

for (const election of ELECTIONS) {
  test.describe(`election=${election}`, () => {
    const path = `/?election=${election}`;

    test.beforeEach(async ({ request }) => {
      await waitForConnections(request, 0);
    });

    test("12 tabs: one leader every tab knows, one server connection", async ({ browser, request }) => {
      const context = await browser.newContext();
      const pages = await openTabs(context, 12, path);
      await waitForOneLeader(pages);
      await waitForConnections(request, 1);
      for (const page of pages) {
        await expect(page.locator("body")).toHaveAttribute("data-mechanism", election);
      }
      const id = await inject(request, uniqueDevice());
      await waitForEventEverywhere(pages, id);
      await context.close();
    });

    test("leader crash: another tab leads and the stream resumes", async ({ browser, request }) => {
      const context = await browser.newContext();
      const pages = await openTabs(context, 4, path);
      const leader = await waitForOneLeader(pages);
      await waitForConnections(request, 1);
      const survivors = pages.filter((p) => p !== leader);

      await crashPage(context, leader);
      await waitForOneLeader(survivors);
      await waitForConnections(request, 1);
      const id = await inject(request, uniqueDevice());
      await waitForEventEverywhere(survivors, id);
      await context.close();
    });

    test("leader frozen: followers take over; thawed, it follows", async ({ browser, request }) => {
      const context = await browser.newContext();
      const pages = await openTabs(context, 4, path);
      const leader = await waitForOneLeader(pages);
      const others = pages.filter((p) => p !== leader);

      const thaw = await freezePage(context, leader);
      await waitForOneLeader(others);
      // An event published while the old leader is frozen reaches the live tabs.
      const during = await inject(request, uniqueDevice());
      await waitForEventEverywhere(others, during);

      await thaw();
      await expect.poll(() => roleOf(leader), { message: "the thawed leader steps down" }).toBe("follower");
      await waitForOneLeader(pages);
      // It closed the stream it held while frozen: one connection again.
      await waitForConnections(request, 1);
      // And it shows what happened while it was frozen (read from its old stream's buffer, or
      // relayed: either way exactly once).
      await waitForEventEverywhere(pages, during);
      await context.close();
    });

    test("no loss: 200 events at ~50/s while the leader dies three times", async ({ browser, request }) => {
      const context = await browser.newContext();
      const pages = await openTabs(context, 6, path);
      await waitForOneLeader(pages);
      await waitForConnections(request, 1);

      const device = uniqueDevice("burst");
      const { injected, done } = publishBurst(request, device, 200);
      let publishError: unknown;
      done.catch((err) => (publishError = err));

      let alive = pages;
      // Kill the current leader three times in the middle of the burst.
      const kills: Array<["close" | "crash", number]> = [
        ["close", 40],
        ["crash", 90],
        ["close", 140],
      ];
      for (const [kill, after] of kills) {
        await expect
          .poll(() => (publishError ? `publishing failed: ${publishError}` : injected.length))
          .toBeGreaterThanOrEqual(after);
        const leader = await waitForOneLeader(alive);
        alive = alive.filter((p) => p !== leader);
        if (kill === "close") await leader.close();
        else await crashPage(context, leader);
      }
      await done;
      await waitForOneLeader(alive);

      expect(injected).toHaveLength(200);
      for (const page of alive) {
        await expectEveryEventOnce(page, injected);
      }
      await context.close();
    });

    test("forged channel messages change nothing", async ({ browser, request }) => {
      const context = await browser.newContext();
      const pages = await openTabs(context, 3, path);
      const leader = await waitForOneLeader(pages);
      const leaderId = await tabIdOf(leader);
      const follower = pages.find((p) => p !== leader)!;
      const others = pages.filter((p) => p !== follower);
      const ignoredBefore = await Promise.all(
        others.map((p) => p.evaluate(() => Number(document.body.dataset.ignoredMessages))),
      );

      // A page of the same origin (here: a follower tab itself) posts garbage, a relay whose
      // sender does not own its term, and a well-formed relay from a stale term (term 0 of a tab
      // that never led), each claiming to carry event 999999999.
      await follower.evaluate(() => {
        const channel = new BroadcastChannel("tabrelay");
        channel.postMessage("not json");
        channel.postMessage({ app: "tabrelay", v: 3 });
        channel.postMessage(JSON.stringify({ app: "someone-else", type: "relay" }));
        channel.postMessage(JSON.stringify({ app: "tabrelay", v: 3, from: 1, type: "relay" }));
        const relay = (from: number, term: { n: number; tab: number }) =>
          JSON.stringify({
            app: "tabrelay",
            v: 3,
            from,
            type: "relay",
            term,
            event: {
              id: 999999999,
              name: "device-online",
              data: JSON.stringify({ id: 999999999, device: "forged", kind: "device-online", at_ms: 0 }),
            },
            sent_at: 0,
          });
        channel.postMessage(relay(1, { n: 0, tab: 0 }));
        channel.postMessage(relay(7, { n: 0, tab: 7 }));
        channel.close();
      });

      // Every other tab counted the six forgeries as ignored …
      for (const [i, page] of others.entries()) {
        await expect
          .poll(() => page.evaluate(() => Number(document.body.dataset.ignoredMessages)))
          .toBeGreaterThanOrEqual(ignoredBefore[i] + 6);
      }
      // … and nothing else changed: same leader, no forged event, still one connection.
      const id = await inject(request, uniqueDevice());
      await waitForEventEverywhere(pages, id);
      for (const page of pages) {
        await expect(page.locator('[data-event-id="999999999"]')).toHaveCount(0);
        expect(await page.evaluate(() => document.body.dataset.leaderId)).toBe(leaderId);
      }
      await waitForConnections(request, 1);
      await context.close();
    });
  });
}

test("20 tabs: still one connection", async ({ browser, request }) => {
  await waitForConnections(request, 0);
  const context = await browser.newContext();
  const pages = await openTabs(context, 20);
  await waitForOneLeader(pages);
  await waitForConnections(request, 1);
  const id = await inject(request, uniqueDevice());
  await waitForEventEverywhere(pages, id);
  await context.close();
});
