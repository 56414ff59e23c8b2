/**
 * The dashboard shows the real state: server-rendered devices and count, a count that moves when
 * another browser connects, hostile names as plain text, working controls, roles that flip.
 */
import { expect, test, type Page } from "@playwright/test";
import {
  closeContexts,
  inject,
  openTabs,
  roleOf,
  tabIdOf,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

test.beforeEach(async ({ request }) => {
  await waitForConnections(request, 0);
});
test.afterEach(async ({ browser }) => closeContexts(browser));

test("the server-rendered page already shows the devices and the count", async ({ request }) => {
  const device = uniqueDevice("ssr");
  await inject(request, device, "online");
  const html = await (await request.get("/")).text();
  expect(html).toContain(`data-device="${device}"`);
  expect(html).toMatch(/id="open-connections"[^>]*>\d+</);
});

test("the count follows a second browser connecting and leaving", async ({ browser, request }) => {
  const first = await browser.newContext();
  const pages = await openTabs(first, 2);
  await waitForOneLeader(pages);
  for (const page of pages) await expect(page.locator("#open-connections")).toHaveText("1");

  const second = await browser.newContext();
  const [other] = await openTabs(second, 1);
  await waitForOneLeader([other]);
  for (const page of [...pages, other]) await expect(page.locator("#open-connections")).toHaveText("2");

  await second.close();
  for (const page of pages) await expect(page.locator("#open-connections")).toHaveText("1");
  await first.close();
});

test("a new tab's sparkline starts with the server's last minutes, not empty", async ({ browser, request }) => {
  // beforeEach waited for 0 connections; this tab's own first reading will be 1.
  const context = await browser.newContext();
  const [first] = await openTabs(context, 1);
  await waitForOneLeader([first]);
  await waitForConnections(request, 1);
  const [late] = await openTabs(context, 1);
  await waitForOneLeader([first, late]);
  const sparkline = late.locator(".sparkline");
  await expect(sparkline).toHaveAttribute("aria-label", /lowest 0, highest \d+, now 1$/);
  // The page came with it: the server-rendered HTML already has the line.
  const html = await (await request.get("/")).text();
  expect(html).toMatch(/aria-label="open connections over the last five minutes: lowest 0, highest \d+, now 1"/);
  await context.close();
});

test("the published total follows the events, not only the connection changes", async ({ browser, request }) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 2);
  await waitForOneLeader(pages);
  await waitForConnections(request, 1);
  // No tab connects or leaves from here on, so the server pushes no new `stats`.
  const published = async () => (await (await request.get("/api/stats")).json()).events_published as number;
  const shown = (page: Page) =>
    page.locator("#server-totals").textContent().then((t) => Number(t?.match(/(\d+) events published/)?.[1]));
  let last = 0;
  for (let i = 0; i < 3; i++) last = await inject(request, uniqueDevice("total"));
  await waitForEventEverywhere(pages, last);
  // Both are read again on every poll: the device simulator may publish meanwhile.
  for (const page of pages) {
    await expect
      .poll(async () => (await shown(page)) - (await published()), {
        message: "the page's total equals the server's: it counts the events received since the last stats",
      })
      .toBe(0);
  }
  await context.close();
});

test("a hostile device name is shown as text, never run", async ({ browser, request }) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 2);
  await waitForOneLeader(pages);
  const dialogs: string[] = [];
  for (const page of pages) page.on("dialog", (d) => (dialogs.push(d.message()), d.dismiss()));

  const hostile = "<img src=x onerror=alert(1)>";
  const device = uniqueDevice("xss");
  const response = await request.post(`/api/devices/${device}/online`, { data: { name: hostile } });
  expect(response.ok()).toBeTruthy();
  const { id } = await response.json();
  await waitForEventEverywhere(pages, id);

  for (const page of pages) {
    await expect(page.locator(`[data-device="${device}"] .device-name`)).toHaveText(hostile);
    await expect(page.locator(`[data-event-id="${id}"] .event-device`)).toHaveText(hostile);
    await expect(page.locator('img[src="x"]')).toHaveCount(0);
  }
  // A fresh tab gets the name from the server-rendered snapshot: still text.
  const [fresh] = await openTabs(context, 1);
  await expect(fresh.locator(`[data-device="${device}"] .device-name`)).toHaveText(hostile);
  expect(dialogs).toEqual([]);
  await context.close();
});

test("controls: inject from the form, step down hands leadership over", async ({ browser, request }) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 3);
  const leader = await waitForOneLeader(pages);
  const follower = pages.find((p) => p !== leader)!;

  const device = uniqueDevice("form");
  await follower.locator("#inject-device").fill(device);
  await follower.getByRole("button", { name: "Inject offline" }).click();
  await expect(follower.locator(".inject-outcome")).toContainText(`Injected: ${device} is offline`);
  for (const page of pages) {
    await expect(page.locator(`[data-device="${device}"]`)).toContainText("offline");
  }

  await follower.locator("#inject-device").fill("not valid!");
  await follower.getByRole("button", { name: "Inject online" }).click();
  await expect(follower.locator(".inject-outcome")).toContainText("only ASCII letters");

  await expect(follower.getByRole("button", { name: "Step down" })).toBeDisabled();
  const oldLeaderId = await tabIdOf(leader);
  await leader.getByRole("button", { name: "Step down" }).click();
  await expect.poll(() => roleOf(leader), { message: "the leader stepped down" }).toBe("follower");
  const next = await waitForOneLeader(pages);
  expect(await tabIdOf(next)).not.toBe(oldLeaderId);
  await waitForConnections(request, 1);
  await context.close();
});

test("the role badge flips when the leader goes away", async ({ browser }) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 3);
  const leader = await waitForOneLeader(pages);
  await expect(leader.locator(".this-tab .role-badge")).toHaveText("leader");
  const survivors = pages.filter((p) => p !== leader);
  for (const page of survivors) await expect(page.locator(".this-tab .role-badge")).toHaveText("follower");

  await leader.close();
  const next = await waitForOneLeader(survivors);
  await expect(next.locator(".this-tab .role-badge")).toHaveText("leader");
  await expect(next.locator("#leader-id")).toHaveText("this tab");
  const other = survivors.find((p) => p !== next)!;
  await expect(other.locator("#leader-id")).toHaveText(await tabIdOf(next));
  await context.close();
});

test("the tab registry keeps hearing from every tab: ages fall back, they do not only grow", async ({ browser }) => {
  const context = await browser.newContext();
  const pages = await openTabs(context, 3);
  await waitForOneLeader(pages);
  const page = pages[0];
  await expect(page.locator(".tab-table tbody tr")).toHaveCount(3);
  // Every tab announces itself each second, so each other row's age must drop back, again and
  // again. Sampled in the page, so no reading is missed between two Playwright round trips.
  await page.evaluate(() => {
    const seen: Record<string, { last: number; drops: number }> = {};
    (window as any).ageDrops = seen;
    setInterval(() => {
      for (const row of document.querySelectorAll<HTMLTableRowElement>(".tab-table tbody tr:not(.self)")) {
        const age = parseFloat(row.cells[3].textContent ?? "");
        const entry = (seen[row.dataset.tabId!] ??= { last: age, drops: 0 });
        if (age < entry.last) entry.drops += 1;
        entry.last = age;
      }
    }, 50);
  });
  await expect
    .poll(() =>
      page.evaluate(() => {
        const rows = Object.values((window as any).ageDrops as Record<string, { drops: number }>);
        return rows.length === 2 ? Math.min(...rows.map((r) => r.drops)) : 0;
      }),
    )
    .toBeGreaterThanOrEqual(2);
  await context.close();
});

test("the mode is shown, each mode is one link away, and 7 naive tabs open on demand", async ({ browser, request }) => {
  const context = await browser.newContext();
  const [page] = await openTabs(context, 1, "/?mode=storage");
  await expect(page.locator("#mode")).toHaveText("storage");
  await expect(page.locator('nav.modes a[aria-current="page"]')).toHaveAttribute("data-mode", "storage");

  // The worker mode, reached through its link, says who holds the connection.
  await page.locator('nav.modes a[data-mode="sharedworker"]').click();
  await expect(page).toHaveURL(/\?mode=sharedworker$/);
  await expect(page.locator("#mode")).toHaveText("sharedworker");
  await expect(page.locator("#leader-id")).toHaveText("shared-worker");
  await waitForConnections(request, 1);

  // From there, 7 naive tabs: with the worker's stream that is 8 wanted, 6 allowed.
  await page.locator("#open-naive-tabs").click();
  await expect.poll(() => context.pages().length).toBe(8);
  await expect(page.locator(".modes [role=status]")).toContainText("Opened 7 naive tabs");
  await waitForConnections(request, 6);
  const stats = await (await request.get("/api/stats")).json();
  expect(stats.streams_by_mode).toMatchObject({ sharedworker: 1, naive: 5 });
});

test("works from 360 px wide: no horizontal page scroll", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const [page] = await openTabs(context, 1);
  await waitForOneLeader([page]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test("no layout shift as events stream in", async ({ browser, request }) => {
  const context = await browser.newContext();
  const [page] = await openTabs(context, 1);
  await waitForOneLeader([page]);
  // Layout shifts (the Cumulative Layout Shift metric's entries) from now on. A planted 200 px
  // insert at the top of <main> measures 0.13 here, so the observer does see shifts.
  await page.evaluate(() => {
    (window as any).shift = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as any[]) if (!entry.hadRecentInput) (window as any).shift += entry.value;
    }).observe({ type: "layout-shift" });
  });
  let last = 0;
  for (let i = 0; i < 30; i++) last = await inject(request, uniqueDevice("cls"), i % 2 ? "offline" : "online");
  await waitForEventEverywhere([page], last);
  // Observers report after the frame that shifted: let two frames pass.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  // 0.1 is the "good" threshold of the Web Vitals; rows go into a fixed-layout table below the fold.
  const shift = await page.evaluate(() => (window as any).shift);
  console.log(`layout shift over 30 events: ${shift.toFixed(4)}`);
  expect(shift).toBeLessThan(0.1);
});

test("an unknown path is a plain 404 page", async ({ request }) => {
  const response = await request.get("/no-such-page");
  expect(response.status()).toBe(404);
  expect(await response.text()).toContain("Page not found");
});
