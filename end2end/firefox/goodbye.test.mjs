/**
 * A closing leader's goodbye reaches the other tabs in Firefox too (#16). It posts `Resign` and
 * `Bye` in `pagehide`; in Firefox about half of them were lost (the page's code could not run
 * there), and the followers then took ~0.9 s to notice the silence, as for a crash. Every
 * follower's "Leadership timeline" says which it saw: `closed` (the goodbye arrived) or `crashed`
 * (it did not). Four closes in a row, each must read `closed` in every surviving tab.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchFirefox, openTabs, serverUp, until, waitForConnections, waitForOneHolder, withContext } from "./lib.mjs";

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
            assert.equal(entry.cause, "closed", `round ${round}: tab ${tab.tabId} saw ${JSON.stringify(entry)}`);
          }
        }
      });
    });
  });
}
