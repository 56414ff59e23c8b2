/**
 * The sharing modes in Firefox ESR, where background tabs really are hidden (timers throttled to
 * >= 1 s) and a crash takes down a content process that other tabs may share.
 *
 * For leader mode with each election mechanism, storage and sharedworker:
 *   - 8 tabs (7 hidden) → one holder and one stream;
 *   - every event reaches every tab exactly once, hidden tabs included;
 *   - the leader closed, then crashed, while ~20 events/s are published → a new leader and no
 *     event lost on any tab that survived.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  crash,
  expectEveryEventOnce,
  inject,
  launchFirefox,
  openTabs,
  publishBurst,
  serverUp,
  stats,
  survivors,
  uniqueDevice,
  until,
  waitForConnections,
  waitForOneHolder,
  withContext,
} from "./lib.mjs";

const VARIANTS = [
  { name: "leader, election=locks", mode: "leader", election: "locks", path: "/?mode=leader&election=locks" },
  { name: "leader, election=protocol", mode: "leader", election: "protocol", path: "/?mode=leader&election=protocol" },
  { name: "storage", mode: "storage", election: "locks", path: "/?mode=storage" },
  { name: "sharedworker", mode: "sharedworker", election: null, path: "/?mode=sharedworker" },
];
const TABS = 8;

let browser;
before(async () => {
  await serverUp();
  browser = await launchFirefox();
});
after(async () => browser?.close());

/** Which tabs the page itself says are visible: after opening them in order, only the last. */
async function visibility(tabs) {
  return Promise.all(tabs.map((t) => t.page.evaluate(() => document.visibilityState)));
}

for (const v of VARIANTS) {
  describe(v.name, () => {
    test(`${TABS} tabs, ${TABS - 1} hidden: one holder, one stream, every event to every tab exactly once`, { timeout: 120_000 }, async () => {
      await waitForConnections(0);
      await withContext(browser, async (context) => {
        const tabs = await openTabs(context, TABS, v.path);
        assert.deepEqual(await visibility(tabs), [...Array(TABS - 1).fill("hidden"), "visible"]);
        const { states } = await waitForOneHolder(tabs, v.mode);
        const s = await waitForConnections(1, v.mode);
        for (const [mode, n] of Object.entries(s.streams_by_mode)) assert.equal(n, mode === v.mode ? 1 : 0, `streams_by_mode.${mode}`);
        for (const state of states) {
          assert.equal(state.mode, v.mode);
          if (v.election) assert.equal(state.mechanism, v.election);
        }

        const device = uniqueDevice(`ff-${v.mode}`);
        const ids = [];
        for (let i = 0; i < 20; i++) ids.push(await inject(device, i % 2 ? "offline" : "online"));
        for (const tab of tabs) await expectEveryEventOnce(tab, ids);
        for (const tab of tabs) {
          const d = await tab.state();
          assert.ok(Number(d.eventsReceived) >= ids.length, `tab ${tab.tabId} counts ${d.eventsReceived} events`);
        }
        assert.equal((await stats()).open_connections, 1);
      });
    });

    test("the holder closed, then crashed, while 20 events/s are published: a new holder, no event lost", { timeout: 120_000 }, async (t) => {
      await waitForConnections(0);
      await withContext(browser, async (context) => {
        let alive = await openTabs(context, TABS, v.path);
        await waitForOneHolder(alive, v.mode);
        await waitForConnections(1, v.mode);

        const { injected, done } = publishBurst(uniqueDevice(`ff-${v.mode}-burst`), 140, 20);
        let publishError;
        done.catch((err) => (publishError = err));
        const published = (n) =>
          until(`${n} events published`, () => {
            if (publishError) throw new Error(`publishing failed: ${publishError.message}`);
            return injected.length >= n;
          });

        for (const [fault, at] of [["close", 30], ["crash", 80]]) {
          await published(at);
          const { leader } = await waitForOneHolder(alive, v.mode);
          // The worker holds the stream itself: take the first tab, the one that started it (and
          // whose content process it may share).
          const victim = leader ?? alive[0];
          if (fault === "close") {
            await victim.page.close();
            alive = alive.filter((tab) => tab !== victim);
          } else {
            await crash(victim);
            const before = alive.length;
            alive = await survivors(alive);
            t.diagnostic(`crash of tab ${victim.tabId} took ${before - alive.length - 1} other tab(s) with it; ${alive.length} left`);
          }
          assert.ok(alive.length > 0, "some tab survived");
          await waitForOneHolder(alive, v.mode);
        }
        await done;
        await waitForConnections(1, v.mode);
        assert.equal(injected.length, 140);
        for (const tab of alive) await expectEveryEventOnce(tab, injected);
      });
    });
  });
}
