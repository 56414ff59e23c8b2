/**
 * The other ways out of the 6-connections-per-host limit, side by side with tabrelay (issue #14):
 * HTTP/2 (one TLS connection carries every stream of the host), sharding over several ports (the
 * cap applies per origin), and closing the stream of hidden tabs. Each on a server of the test's
 * own, started with the flags that mode needs.
 */
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { OwnServer, freePort } from "./own-server";
import { closeContexts, expectEveryEventOnce, inject, openTabs, uniqueDevice, waitForOneLeader } from "./support";

let server: OwnServer;
let api: APIRequestContext;

test.afterEach(async ({ browser }) => {
  await closeContexts(browser);
  await api?.dispose();
  await server?.stop();
});

async function stats(): Promise<Record<string, any>> {
  return (await api.get("/api/stats")).json();
}

/** Every tab shows one event injected now: it is live. */
async function allLive(pages: Page[]): Promise<void> {
  const id = await inject(api, uniqueDevice("alt"));
  for (const page of pages) await expect(page.locator(`[data-event-id="${id}"]`)).toHaveCount(1);
}

test.describe("over HTTPS with HTTP/2", () => {
  test.beforeEach(async () => {
    server = await OwnServer.start({ TABRELAY_TLS: "self-signed" });
    api = await server.api();
  });

  test("naive: 12 tabs in one browser are all live, 12 server streams on HTTP/2", async ({ browser }) => {
    const context = await browser.newContext({ baseURL: server.baseURL, ignoreHTTPSErrors: true });
    const pages = await openTabs(context, 12, "/?mode=naive");
    await expect(pages[0].locator("#http-protocol")).toHaveText("h2");
    await expect.poll(async () => (await stats()).streams_by_http_version.h2).toBe(12);
    expect((await stats()).open_connections).toBe(12);
    await allLive(pages);
  });

  test("leader: 8 tabs hold one stream", async ({ browser }) => {
    const context = await browser.newContext({ baseURL: server.baseURL, ignoreHTTPSErrors: true });
    const pages = await openTabs(context, 8, "/?mode=leader");
    await waitForOneLeader(pages);
    await expect.poll(async () => (await stats()).open_connections).toBe(1);
    expect((await stats()).streams_by_http_version.h2).toBe(1);
    await allLive(pages);
  });
});

test("sharded over 3 ports: 12 naive tabs in one browser are all live", async ({ browser }) => {
  const ports = [await freePort(), await freePort(), await freePort()];
  server = await OwnServer.start({ TABRELAY_SHARD_PORTS: ports.join(",") });
  api = await server.api();
  const context = await browser.newContext({ baseURL: server.baseURL });
  const pages = await openTabs(context, 12, "/?mode=sharded");
  await expect.poll(async () => (await stats()).streams_by_mode.sharded).toBe(12);
  await allLive(pages);
});

test("hidden-close: a hidden tab holds no stream and catches up when shown", async ({ browser }) => {
  server = await OwnServer.start();
  api = await server.api();
  const context = await browser.newContext({ baseURL: server.baseURL });
  const [shown, hidden] = await openTabs(context, 2, "/?mode=hidden-close");
  await expect.poll(async () => (await stats()).streams_by_mode["hidden-close"]).toBe(2);
  // Headless Chromium keeps every page visible: the page is told it is hidden, as a browser would.
  await hidden.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await expect.poll(async () => (await stats()).streams_by_mode["hidden-close"]).toBe(1);
  const device = uniqueDevice("hidden");
  const missed = [await inject(api, device), await inject(api, device, "offline"), await inject(api, device)];
  await expectEveryEventOnce(shown, missed);
  await hidden.evaluate(() => {
    delete (document as any).visibilityState;
    delete (document as any).hidden;
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await expect.poll(async () => (await stats()).streams_by_mode["hidden-close"]).toBe(2);
  await expectEveryEventOnce(hidden, missed);
});
