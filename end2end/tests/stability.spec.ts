/**
 * No leadership change without a fault. A tab that opens while the leader is slow to answer (a
 * busy machine, a long task) must not depose it: it probes first and waits like any follower.
 * Two spinning processes keep both cores busy while 16 tabs open one by one, and the leader's
 * main thread runs a 250 ms task every 400 ms (a busy page: its answers come up to 250 ms late,
 * longer than the 150 ms a new tab used to wait before it stole the lock).
 */
import { expect, test } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { OwnServer } from "./own-server";
import { closeContexts, ELECTIONS, waitForConnections, waitForHydration, waitForOneLeader, tabIdOf } from "./support";

/** `n` processes that each keep one core busy until stopped. */
function spin(n: number): () => void {
  const spinners: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    spinners.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  }
  return () => spinners.forEach((s) => s.kill("SIGKILL"));
}

test.afterEach(async ({ browser }) => closeContexts(browser));

for (const election of ELECTIONS) {
  test(`${election}: 16 tabs opened one by one on busy cores keep the first leader`, async ({ browser }) => {
    test.setTimeout(240_000);
    const server = await OwnServer.start();
    const api = await server.api();
    const stop = spin(2);
    try {
      const total = async () => (await (await api.get("/api/stats")).json()).total_connections as number;
      const totalBefore = await total();
      const context = await browser.newContext();
      const url = `${server.baseURL}/?election=${election}`;
      const first = await context.newPage();
      await first.goto(url);
      await waitForHydration(first);
      const pages = [first];
      expect(await waitForOneLeader(pages, 30_000)).toBe(first);
      const leaderId = await tabIdOf(first);
      const term = await first.evaluate(() => document.body.dataset.term);
      await first.evaluate(() => {
        setInterval(() => {
          const end = performance.now() + 250;
          while (performance.now() < end) {
            // a long task: nothing else runs on this page meanwhile
          }
        }, 400);
      });

      for (let i = 1; i < 16; i++) {
        const page = await context.newPage();
        await page.goto(url, { timeout: 60_000 });
        await waitForHydration(page);
        pages.push(page);
      }
      expect(await waitForOneLeader(pages, 60_000)).toBe(first);
      for (const page of pages) {
        expect(await page.evaluate(() => document.body.dataset.leaderId)).toBe(leaderId);
        expect(await page.evaluate(() => document.body.dataset.term), "no new term: nobody was deposed").toBe(term);
      }
      await waitForConnections(api, 1);
      expect(await total(), "one stream was ever opened").toBe(totalBefore + 1);
    } finally {
      stop();
      await api.dispose();
      await server.stop();
    }
  });
}
