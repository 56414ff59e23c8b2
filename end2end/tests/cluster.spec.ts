/**
 * Several replicas behind nginx, sharing Redis (issue #12): the tabs of one browser still hold one
 * connection to the whole deployment, and killing the replica that holds it (SIGKILL, no goodbye)
 * moves the stream to another replica through nginx with no event lost or shown twice, while
 * events are published through nginx at ~20/s. The deployment's count comes back to 1.
 */
import { expect, test, type APIRequestContext } from "@playwright/test";
import { Cluster } from "./cluster";
import { closeContexts, expectEveryEventOnce, openTabs, uniqueDevice, waitForOneLeader } from "./support";

let cluster: Cluster;
let api: APIRequestContext;

test.beforeEach(async () => {
  cluster = await Cluster.start(3);
  api = await cluster.api();
});
test.afterEach(async ({ browser }) => {
  await closeContexts(browser);
  await api.dispose();
  await cluster.stop();
});

async function deploymentOpen(): Promise<number> {
  const reply = await api.get("/api/stats");
  return (await reply.json()).open_connections;
}

test("8 tabs through nginx: one connection; its replica killed mid-stream, nothing lost", async ({ browser }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext({ baseURL: cluster.baseURL });
  const pages = await openTabs(context, 8, "/?mode=leader");
  await waitForOneLeader(pages);
  await expect.poll(deploymentOpen, { message: "one stream for the whole deployment" }).toBe(1);
  const holder = await cluster.replicaHolding(1);
  expect(holder, "one replica holds the stream").toBeDefined();

  // Publish through nginx at ~20/s; kill the stream's replica after a quarter of the events.
  const device = uniqueDevice("cluster");
  const published: number[] = [];
  let failed = 0;
  for (let i = 0; i < 60; i++) {
    if (i === 15) await holder!.stop("SIGKILL");
    const reply = await api.post(`/api/devices/${device}/${i % 2 ? "offline" : "online"}`);
    if (reply.ok()) published.push((await reply.json()).id);
    else failed++; // in flight to the killed replica: nginx answers 502
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(failed, "at most the requests in flight at the kill fail").toBeLessThanOrEqual(2);
  expect(published.length).toBeGreaterThanOrEqual(58);
  for (let i = 1; i < published.length; i++) expect(published[i]).toBeGreaterThan(published[i - 1]);

  for (const page of pages) await expectEveryEventOnce(page, published);
  await expect
    .poll(deploymentOpen, { message: "the killed replica leaves the count; one stream again", timeout: 20_000 })
    .toBe(1);
  const survivors = cluster.replicas.filter((r) => r !== holder);
  const shares = await Promise.all(survivors.map(async (r) => (await cluster.replicaStats(r)).replica_open_connections));
  expect(shares.reduce((a, b) => a + b, 0), "the stream moved to a surviving replica").toBe(1);
});
