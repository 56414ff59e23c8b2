/**
 * Helpers shared by the multi-tab tests. Everything here waits for a condition; nothing sleeps.
 * The DOM and HTTP surface used is the one in shared/TESTING-CONTRACT.md.
 */
import { expect, type APIRequestContext, type Browser, type BrowserContext, type Page } from "@playwright/test";

export type Role = "electing" | "leader" | "follower";
export type Election = "locks" | "protocol";
export const ELECTIONS: Election[] = ["locks", "protocol"];

/** Opens `n` tabs of `path` in `context` and waits until each one has hydrated. */
export async function openTabs(context: BrowserContext, n: number, path = "/"): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    await page.goto(path);
    pages.push(page);
  }
  for (const page of pages) await waitForHydration(page);
  return pages;
}

export async function waitForHydration(page: Page): Promise<void> {
  await expect
    .poll(() => page.evaluate(() => document.body.dataset.tabId ?? ""), {
      message: "the tab hydrated and picked an id",
    })
    .not.toBe("");
}

export async function roleOf(page: Page): Promise<Role> {
  return (await page.evaluate(() => document.body.dataset.role)) as Role;
}

/** Waits until exactly one of `pages` leads and every other follows it; returns the leader. */
export async function waitForOneLeader(pages: Page[], timeout?: number): Promise<Page> {
  let leader: Page | undefined;
  await expect
    .poll(
      async () => {
        const states = await Promise.all(
          pages.map((p) =>
            p.evaluate(() => ({
              role: document.body.dataset.role,
              tab: document.body.dataset.tabId,
              leader: document.body.dataset.leaderId,
            })),
          ),
        );
        const leaders = states.filter((s) => s.role === "leader");
        if (leaders.length !== 1) return `${leaders.length} leaders`;
        const lost = states.filter((s) => s.leader !== leaders[0].tab);
        if (lost.length > 0) return `${lost.length} tabs disagree on the leader`;
        // Taken from the same read that passed, so it cannot go stale in between.
        leader = pages[states.indexOf(leaders[0])];
        return "one leader, all agree";
      },
      { timeout, message: "exactly one leader that every tab knows" },
    )
    .toBe("one leader, all agree");
  return leader!;
}

/**
 * Closes every browser context a test opened, also when it failed half-way: otherwise its tabs
 * keep their SSE streams open and every later test starts on a busy server.
 */
export async function closeContexts(browser: Browser): Promise<void> {
  for (const context of browser.contexts()) await context.close();
}

export async function openConnections(request: APIRequestContext): Promise<number> {
  const response = await request.get("/api/stats");
  expect(response.ok()).toBeTruthy();
  return (await response.json()).open_connections;
}

/** Waits until the server counts exactly `n` open SSE streams. */
export async function waitForConnections(request: APIRequestContext, n: number): Promise<void> {
  await expect
    .poll(() => openConnections(request), { message: `the server counts ${n} open SSE streams` })
    .toBe(n);
}

/** A device id no other test uses. */
export function uniqueDevice(prefix = "e2e"): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Injects one device event through the API and returns its id. */
export async function inject(
  request: APIRequestContext,
  device: string,
  state: "online" | "offline" = "online",
): Promise<number> {
  const response = await request.post(`/api/devices/${device}/${state}`);
  expect(response.status(), await response.text()).toBeLessThan(300);
  const body = await response.json();
  expect(typeof body.id).toBe("number");
  return body.id;
}

/** Waits until every page shows the device event `id`. */
export async function waitForEventEverywhere(pages: Page[], id: number): Promise<void> {
  for (const page of pages) {
    await expect(page.locator(`[data-event-id="${id}"]`)).toHaveCount(1);
  }
}

/** Every `data-event-id` the page renders, in DOM order. */
export async function renderedEventIds(page: Page): Promise<number[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll("[data-event-id]"), (el) => Number(el.getAttribute("data-event-id"))),
  );
}

/**
 * Publishes `count` device events about `device`, one every ~20 ms, in the background. `injected`
 * fills as they go (tests wait on its length to time their faults); `done` settles when all are
 * out, rejecting if one failed.
 */
export function publishBurst(
  request: APIRequestContext,
  device: string,
  count: number,
): { injected: number[]; done: Promise<void> } {
  const injected: number[] = [];
  const done = (async () => {
    for (let i = 0; i < count; i++) {
      injected.push(await inject(request, device, i % 2 ? "offline" : "online"));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // Observed here too, so a failure before the test awaits `done` is not an unhandled rejection.
  done.catch(() => {});
  return { injected, done };
}

/** Waits until `page` shows every event in `ids`, then checks it shows none twice. */
export async function expectEveryEventOnce(page: Page, ids: number[]): Promise<void> {
  await expect
    .poll(async () => {
      const shown = new Set(await renderedEventIds(page));
      return ids.filter((id) => !shown.has(id)).length;
    }, { message: "every injected event reached this tab" })
    .toBe(0);
  const shown = await renderedEventIds(page);
  expect(new Set(shown).size, "no event is shown twice").toBe(shown.length);
}

/** Crashes a page's renderer (like a tab that hits an out-of-memory kill). */
export async function crashPage(context: BrowserContext, page: Page): Promise<void> {
  const cdp = await context.newCDPSession(page);
  const crashed = page.waitForEvent("crash");
  // The command never answers: its target is gone.
  cdp.send("Page.crash").catch(() => {});
  await crashed;
}

/**
 * Freezes a page: its JavaScript stops (no timers, no message handlers) while it keeps its Web
 * Lock and its connections, like a tab Chrome froze or one stuck in a long task. Returns `thaw`.
 *
 * This pauses the page in the debugger. CDP's `Page.setWebLifecycleState {frozen}` would be the
 * obvious tool, but this headless Chromium accepts it on a visible page and freezes nothing
 * (timers keep firing, no `freeze` event), and Playwright's pages are always visible. Pausing is
 * also the harder case for tabrelay: the page gets no `freeze` event to hand over politely.
 */
export async function freezePage(context: BrowserContext, page: Page): Promise<() => Promise<void>> {
  const cdp = await context.newCDPSession(page);
  await cdp.send("Debugger.enable");
  await cdp.send("Debugger.pause");
  return async () => {
    await cdp.send("Debugger.resume");
    await cdp.send("Debugger.disable");
    await cdp.detach();
  };
}

/** The tab id of a page (hydrated). */
export async function tabIdOf(page: Page): Promise<string> {
  return page.evaluate(() => document.body.dataset.tabId ?? "");
}

/**
 * An init script (`context.addInitScript(hideable)`): `window.__setHidden(bool)` hides or shows
 * the page, as far as the page can tell (`document.visibilityState`, `visibilitychange`).
 * Headless Chromium shows every page as visible and none of CDP's knobs change that.
 */
export function hideable() {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { get: () => hidden });
  (window as unknown as { __setHidden: (h: boolean) => void }).__setHidden = (value: boolean) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
  };
}

/** Hides or shows a page that has the `hideable` init script. */
export const setHidden = (page: Page, hidden: boolean) =>
  page.evaluate((h) => (window as unknown as { __setHidden: (h: boolean) => void }).__setHidden(h), hidden);
