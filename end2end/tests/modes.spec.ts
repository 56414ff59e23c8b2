/**
 * `?mode=naive` is the baseline tabrelay exists to beat: every tab opens its own EventSource, and
 * one browser allows 6 HTTP/1.1 connections per host, so the 7th and 8th tabs starve.
 */
import { expect, test, type Page } from "@playwright/test";
import {
  closeContexts,
  inject,
  openConnections,
  openTabs,
  uniqueDevice,
  waitForConnections,
  waitForOneLeader,
} from "./support";

test.beforeEach(async ({ request }) => {
  await waitForConnections(request, 0);
});
test.afterEach(async ({ browser }) => closeContexts(browser));

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
  const received = (page: Page) =>
    page
      .evaluate((id) => document.querySelector(`[data-event-id="${id}"]`) !== null, id)
      .catch(() => false);
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
  const stats = await (await request.get("/api/stats")).json();
  expect(stats.streams_by_mode.naive).toBe(6);
});

test("leader mode: the same 8 tabs load and share one connection", async ({ browser, request }) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 8, "/?mode=leader");
  await waitForOneLeader(pages);
  await waitForConnections(request, 1);
  const stats = await (await request.get("/api/stats")).json();
  expect(stats.streams_by_mode.leader).toBe(1);
  const id = await inject(request, uniqueDevice("leader"));
  for (const page of pages) await expect(page.locator(`[data-event-id="${id}"]`)).toHaveCount(1);
});
