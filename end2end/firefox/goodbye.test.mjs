/**
 * A closing leader's goodbye reaches the other tabs in Firefox too (#16). It posts `Resign` and
 * `Bye` in `pagehide`; in Firefox about half of them were lost (the page's code could not run
 * there), and the followers then took ~0.9 s to notice the silence, as for a crash. Every
 * follower's "Leadership timeline" says which it saw: `closed` (the goodbye arrived) or `crashed`
 * (it did not). Four closes in a row, each must read `closed` in every surviving tab, at once or
 * as soon as a goodbye that came after the next leader's first word arrives.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchFirefox, notYet, openTabs, serverUp, until, waitForConnections, waitForOneHolder, withContext } from "./lib.mjs";

let browser;
before(async () => {
  await serverUp();
  browser = await launchFirefox();
});
after(async () => browser?.close());

/** The newest entry of a tab's leadership timeline, or null. */
const newest = (tab) =>
  tab.page.evaluate(() => {
    const li = document.querySelector(".panel-timeline [data-testid=timeline-entry]");
    return li ? { ...li.dataset } : null;
  });

for (const election of ["protocol", "locks"]) {
  describe(`leader, election=${election}`, () => {
    test("four closes of the leader: every follower saw its goodbye (cause closed, not crashed)", { timeout: 180_000 }, async () => {
      await waitForConnections(0);
      await withContext(browser, async (context) => {
        let alive = await openTabs(context, 8, `/?mode=leader&election=${election}`);
        for (let round = 0; round < 4; round++) {
          const { leader } = await waitForOneHolder(alive, "leader");
          alive = alive.filter((t) => t !== leader);
          await leader.page.close();
          const { leader: next } = await waitForOneHolder(alive, "leader");
          for (const tab of alive.filter((t) => t !== next)) {
            const entry = await until(`tab ${tab.tabId} to record the change`, async () => {
              const e = await newest(tab);
              return e?.from === leader.tabId && e.to ? e : null;
            });
            if (entry.cause === "closed") continue;
            // The goodbye and the next leader's first word come from two tabs, with no order
            // between them: a follower that hears the next leader first records `crashed` until
            // the goodbye arrives, then `closed` (coord's timeline). A goodbye that never comes
            // leaves `crashed`.
            const settled = await until(`tab ${tab.tabId} to hear the goodbye`, async () => {
              const e = await newest(tab);
              return e?.from === leader.tabId && e.cause !== "crashed" ? e : notYet(`round ${round}: ${JSON.stringify(e)}`);
            }, { timeoutMs: 5000 });
            assert.equal(settled.cause, "closed", `round ${round}: tab ${tab.tabId} saw ${JSON.stringify(settled)}`);
            console.log(`ℹ round ${round}: tab ${tab.tabId} heard the goodbye after the next leader`);
          }
        }
      });
    });
  });
}
