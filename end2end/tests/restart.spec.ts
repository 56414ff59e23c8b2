/**
 * Nothing lost across a deploy: the server process is stopped (SIGTERM) and started again on the
 * same port while tabs stay open, as a deploy does. Every tab must then get every event published
 * after the restart exactly once and show the server's devices, in every mode that shares the
 * connection: a position of the old run is answered with a `reset` snapshot, never a replay of ids
 * that mean something else, and no tab may sit on a live-looking dashboard that stopped.
 */
import { expect, test, type APIRequestContext, type BrowserContext, type Page } from "@playwright/test";
import { OwnServer } from "./own-server";
import {
  closeContexts,
  expectEveryEventOnce,
  freezePage,
  inject,
  openConnections,
  openTabs,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

const VARIANTS = [
  { name: "leader, Web Locks", query: "mode=leader&election=locks", worker: false },
  { name: "leader, protocol", query: "mode=leader&election=protocol", worker: false },
  { name: "storage", query: "mode=storage", worker: false },
  { name: "sharedworker", query: "mode=sharedworker", worker: true },
];

let server: OwnServer;
let api: APIRequestContext;

test.beforeEach(async () => {
  server = await OwnServer.start();
  api = await server.api();
});
test.afterEach(async ({ browser }) => {
  await closeContexts(browser);
  await api.dispose();
  await server.stop();
});

/** The device grid a page shows, as `id → online`, sorted by id. */
async function shownDevices(page: Page): Promise<string> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>("li.device[data-device]"), (li) => ({
      id: li.dataset.device!,
      online: li.classList.contains("online"),
    }))
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((d) => `${d.id}:${d.online}`)
      .join(" "),
  );
}

async function serverDevices(request: APIRequestContext): Promise<string> {
  const devices: Array<{ id: string; online: boolean }> = await (await request.get("/api/devices")).json();
  return devices
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((d) => `${d.id}:${d.online}`)
    .join(" ");
}

async function expectGridMatchesServer(pages: Page[]): Promise<void> {
  const truth = await serverDevices(api);
  for (const page of pages) {
    await expect.poll(() => shownDevices(page), { message: "the device grid equals /api/devices" }).toBe(truth);
  }
}

async function openSharing(context: BrowserContext, query: string, worker: boolean): Promise<Page[]> {
  const pages = await openTabs(context, 6, `${server.baseURL}/?${query}`);
  await waitForConnections(api, 1);
  if (!worker) await waitForOneLeader(pages);
  return pages;
}

test("naive: every tab's own EventSource resumes into the new run with a reset", async ({ browser }) => {
  // Naive tabs reconnect with the browser's own `Last-Event-ID` (no epoch): the server judges the
  // old run's id alone and answers with a `reset`, which the tab must apply, not ignore.
  const context = await browser.newContext();
  const pages = await openTabs(context, 4, `${server.baseURL}/?mode=naive`);
  await waitForConnections(api, 4);
  const before = await publish(4, "naive-before");
  await waitForEventEverywhere(pages, before.at(-1)!);
  await server.restart();
  await waitForConnections(api, 4);
  const after = await publish(3, "naive-after");
  for (const page of pages) await expectEveryEventOnce(page, after);
  await expectGridMatchesServer(pages);
});

async function publish(count: number, prefix: string): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push(await inject(api, uniqueDevice(`${prefix}${i}`), i % 3 ? "online" : "offline"));
  return ids;
}

for (const { name, query, worker } of VARIANTS) {
  test.describe(name, () => {
    test("a server restart under 6 open tabs: every later event reaches every tab once", async ({ browser }) => {
      const context = await browser.newContext();
      const pages = await openSharing(context, query, worker);
      const before = await publish(12, "before");
      await waitForEventEverywhere(pages, before.at(-1)!);

      await server.restart();
      await waitForConnections(api, 1);
      const after = await publish(5, "after");
      expect(Math.min(...after), "ids never repeat across runs").toBeGreaterThan(Math.max(...before));

      for (const page of pages) await expectEveryEventOnce(page, after);
      await expectGridMatchesServer(pages);
      expect(await openConnections(api)).toBe(1);
    });

    test("a follower paused in the debugger across the restart catches up too", async ({ browser }) => {
      const context = await browser.newContext();
      const pages = await openSharing(context, query, worker);
      const before = await publish(6, "before");
      await waitForEventEverywhere(pages, before.at(-1)!);
      // A follower (for the worker: any tab but the first, whose process may host the worker).
      const leaderId = worker ? "" : await pages[0].evaluate(() => document.body.dataset.leaderId ?? "");
      const tabIds = await Promise.all(pages.map((p) => p.evaluate(() => document.body.dataset.tabId ?? "")));
      const paused = pages.find((_, i) => i > 0 && tabIds[i] !== leaderId)!;
      const thaw = await freezePage(context, paused);

      await server.restart();
      await waitForConnections(api, 1);
      const during = await publish(3, "during");
      const others = pages.filter((p) => p !== paused);
      for (const page of others) await expectEveryEventOnce(page, during);

      await thaw();
      const after = await publish(2, "after");
      for (const page of pages) await expectEveryEventOnce(page, [...during, ...after]);
      await expectGridMatchesServer(pages);
      await waitForConnections(api, 1);
    });
  });
}
