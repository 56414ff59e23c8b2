/**
 * The dashboard passes axe-core's WCAG 2.1 A/AA rules, colour contrast included, in the light and
 * the dark scheme, as a leader and as a follower, and with events in the log.
 */
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { closeContexts, inject, openTabs, uniqueDevice, waitForConnections, waitForEventEverywhere, waitForOneLeader } from "./support";

test.beforeEach(async ({ request }) => {
  await waitForConnections(request, 0);
});
test.afterEach(async ({ browser }) => closeContexts(browser));

async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`,
  );
}

for (const colorScheme of ["light", "dark"] as const) {
  test(`no WCAG A/AA violations in the ${colorScheme} scheme`, async ({ browser, request }) => {
    const context = await browser.newContext({ colorScheme });
    const pages = await openTabs(context, 2);
    const leader = await waitForOneLeader(pages);
    const follower = pages.find((p) => p !== leader)!;
    await inject(request, uniqueDevice("a11y"), "online");
    const id = await inject(request, uniqueDevice("a11y"), "offline");
    await waitForEventEverywhere(pages, id);
    for (const page of [leader, follower]) expect(await violations(page)).toEqual([]);
  });
}
