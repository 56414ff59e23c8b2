/**
 * The dashboard at the widths people use, light and dark (issue #18): ids and times never wrap
 * (nor get cut), the page never scrolls sideways, every column of the event log can be reached
 * (on a phone by scrolling inside its panel), and axe-core stays clean at each size.
 */
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { closeContexts, inject, openTabs, uniqueDevice, waitForConnections, waitForEventEverywhere, waitForOneLeader } from "./support";

test.beforeEach(async ({ request }) => {
  await waitForConnections(request, 0);
});
test.afterEach(async ({ browser }) => closeContexts(browser));

const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
  { width: 390, height: 844 },
];

/**
 * Elements that show an id, a time or an age. Only the newest rows of the event log: the rest are
 * off screen, where the browser skips their layout.
 */
const ONE_LINE = [
  ".this-tab dd.mono",
  "#leader-id",
  ".heartbeat .mono",
  ".tab-table tbody td:first-child .mono",
  ".tab-table tbody td:last-child",
  ".device-grid .mono",
  ".event-body > [data-event-id]:nth-child(-n+3) > :nth-child(1)",
  ".event-body > [data-event-id]:nth-child(-n+3) > :nth-child(4)",
  ".event-body > [data-event-id]:nth-child(-n+3) > :nth-child(6)",
];

/** Ids, times and latencies: shown whole, never cut with an ellipsis. */
const WHOLE = [
  ".this-tab dd.mono",
  ".tab-table tbody td:first-child .mono",
  ".event-body > [data-event-id]:nth-child(-n+3) > :nth-child(1)",
  ".event-body > [data-event-id]:nth-child(-n+3) > :nth-child(4)",
  ".event-body > [data-event-id]:nth-child(-n+3) > :nth-child(6)",
];

/** The ONE_LINE elements whose text takes more than one line, each with what it shows. */
function wrapped(page: Page): Promise<string[]> {
  return page.evaluate((selectors) => {
    const bad: string[] = [];
    for (const selector of selectors) {
      const found = document.querySelectorAll<HTMLElement>(selector);
      if (found.length === 0) bad.push(`${selector}: nothing to check`);
      for (const el of found) {
        if (!el.textContent?.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(el);
        const tops = new Set(
          Array.from(range.getClientRects())
            .filter((r) => r.width > 0)
            .map((r) => Math.round(r.top)),
        );
        // Its height against one line's: a probe with one character in the same style.
        const probe = el.cloneNode(false) as HTMLElement;
        probe.textContent = "0";
        el.after(probe);
        const oneLine = probe.getBoundingClientRect().height;
        probe.remove();
        const height = el.getBoundingClientRect().height;
        if (tops.size > 1 || height > oneLine * 1.5) {
          bad.push(`${selector} "${el.textContent.trim()}": ${tops.size} lines, ${height}px vs ${oneLine}px`);
        }
      }
    }
    return bad;
  }, ONE_LINE);
}

/** The WHOLE elements whose text is cut (wider than the box that shows it). */
function cut(page: Page): Promise<string[]> {
  return page.evaluate(
    (selectors) =>
      selectors.flatMap((selector) =>
        Array.from(document.querySelectorAll<HTMLElement>(selector))
          .filter((el) => el.scrollWidth > el.clientWidth + 1)
          .map((el) => `${selector} "${el.textContent?.trim()}": ${el.scrollWidth}px in ${el.clientWidth}px`),
      ),
    WHOLE,
  );
}

/**
 * The event log's column headers and the newest row's cells that cannot be brought on screen:
 * each is scrolled into view (the log scrolls inside its panel) and must then be what the browser
 * finds at its centre.
 */
function unreachable(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const targets = [
      ...document.querySelectorAll<HTMLElement>(".event-head [role=columnheader]"),
      ...document.querySelectorAll<HTMLElement>(".event-body > [data-event-id]:first-child > [role=cell]"),
    ];
    const bad: string[] = targets.length < 12 ? [`only ${targets.length} headers and cells`] : [];
    for (const el of targets) {
      if (!el.textContent?.trim()) continue; // an empty cell (a direct event has no latency)
      el.scrollIntoView({ block: "nearest", inline: "nearest" });
      const r = el.getBoundingClientRect();
      const x = r.left + Math.min(r.width / 2, 8);
      const y = r.top + r.height / 2;
      const inView = x >= 0 && y >= 0 && x < window.innerWidth && y < window.innerHeight;
      const hit = inView ? document.elementFromPoint(x, y) : null;
      if (!hit || !(hit === el || el.contains(hit))) bad.push(el.textContent?.trim() || el.getAttribute("role")!);
    }
    return bad;
  });
}

async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`,
  );
}

for (const colorScheme of ["light", "dark"] as const) {
  for (const viewport of VIEWPORTS) {
    test(`${viewport.width}×${viewport.height} ${colorScheme}: ids and times on one line, no sideways page scroll, every event column reachable, axe clean`, async ({
      browser,
      request,
    }) => {
      const context = await browser.newContext({ viewport, colorScheme });
      const pages = await openTabs(context, 2);
      const leader = await waitForOneLeader(pages);
      const follower = pages.find((p) => p !== leader)!;
      // A long device id (up to 64 characters are allowed) next to 16-digit event ids.
      const device = `${uniqueDevice("layout")}-a-rather-long-device-identifier`;
      await inject(request, device, "online");
      const id = await inject(request, device, "offline");
      await waitForEventEverywhere(pages, id);
      await expect(follower.locator(".tab-table tbody tr")).toHaveCount(2);

      for (const page of [leader, follower]) {
        expect(await wrapped(page), "ids and times on one line").toEqual([]);
        expect(await cut(page), "ids and times shown whole").toEqual([]);
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        expect(overflow, "no horizontal page scroll").toBeLessThanOrEqual(0);
        expect(await unreachable(page), "every event column reachable").toEqual([]);
      }
      expect(await violations(follower)).toEqual([]);
    });
  }
}
