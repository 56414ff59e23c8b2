/**
 * The walking skeleton's promise: 8 tabs of one browser share ONE server connection, every tab
 * sees every event, and closing the leader hands over to another tab at once.
 */
import { expect, test } from "@playwright/test";
import {
  closeContexts,
  inject,
  openTabs,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

test.afterEach(async ({ browser }) => closeContexts(browser));

test("8 tabs share one connection and survive the leader closing", async ({ browser, request }) => {
  const context = await browser.newContext();
  // Streams of an earlier test may still be closing: start from a quiet server.
  await waitForConnections(request, 0);

  const pages = await openTabs(context, 8);
  const leader = await waitForOneLeader(pages);
  await waitForConnections(request, 1);

  const first = await inject(request, uniqueDevice(), "online");
  await waitForEventEverywhere(pages, first);

  const survivors = pages.filter((p) => p !== leader);
  const closedAt = Date.now();
  await leader.close();
  // Web Locks hand the lock over the moment the leader's page goes away; 2 s is generous.
  await waitForOneLeader(survivors, 2_000);
  console.log(`failover (close → one leader, as polled): ${Date.now() - closedAt} ms`);
  await waitForConnections(request, 1);

  const second = await inject(request, uniqueDevice(), "offline");
  await waitForEventEverywhere(survivors, second);

  // Nothing was lost over the handover either: every survivor still has the first event once.
  await waitForEventEverywhere(survivors, first);
  await context.close();
  await waitForConnections(request, 0);
});
