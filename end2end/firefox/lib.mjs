/**
 * What the Firefox suite shares: a Firefox ESR driven by puppeteer-core over WebDriver BiDi, the
 * HTTP API, and helpers that wait for a condition with a deadline (nothing here sleeps for a fixed
 * time). Only the surface in shared/TESTING-CONTRACT.md is used, plus the dashboard's heartbeat
 * line in the idle test (see idle.test.mjs).
 *
 * Firefox facts this relies on (measured here, see shared/TOOLCHAIN.md):
 *   - `newPage()` selects its tab, so every other tab is hidden and its timers are throttled to
 *     >= 1 s: the newest tab is the one visible tab.
 *   - `page.close()` on the browser's last tab does nothing: the initial blank tab stays open.
 *   - `page.goto('about:crashcontent')` (allowed with `-remote-allow-system-access`) kills the
 *     tab's content process, which other tabs may share; a crashed page evaluates in a blank
 *     document, so "alive" means "still answers with its own tab id".
 */
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";

export const BASE = (process.env.TABRELAY_BASE_URL ?? "http://127.0.0.1:3000").replace(/\/$/, "");
export const FIREFOX = process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One Firefox for a test file (launching takes 5–6 s). */
export async function launchFirefox() {
  return puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    // Without it Firefox 153's BiDi refuses `about:crashcontent` ("Navigation to ... is not allowed
    // in this context"): the crash fault needs the remote agent's system access.
    args: ["-remote-allow-system-access"],
    // Hidden tabs' timers run at most once a second from the start; Firefox adds budget-based
    // throttling (timers of a busy background tab delayed further) only 30 s after a page loads.
    // Tabs that live that long are the normal case for users, so start it at once.
    extraPrefsFirefox: { "dom.timeout.throttling_delay": 0 },
    protocolTimeout: 60_000,
  });
}

/**
 * Polls `check` until it returns something truthy and returns that. A check says why it is not
 * there yet by throwing (`notYet("...")`); errors are retried too, and the last reason is in the
 * timeout's message.
 */
export async function until(what, check, { timeoutMs = 20_000, everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = "never checked";
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = JSON.stringify(value);
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await sleep(everyMs);
  }
}

export function notYet(why) {
  throw new Error(why);
}

// ---- HTTP API ----------------------------------------------------------------------------------

export async function stats() {
  const response = await fetch(`${BASE}/api/stats`);
  assert.ok(response.ok, `GET /api/stats: ${response.status}`);
  return response.json();
}

/** Waits until the server answers at all (the suite may start right after the server does). */
export function serverUp(timeoutMs = 60_000) {
  return until(`the server at ${BASE}`, () => stats().then(() => true), { timeoutMs, everyMs: 200 });
}

/** Waits until the server counts `n` open SSE streams (and `n` in `mode`, if given). */
export function waitForConnections(n, mode, timeoutMs = 20_000) {
  return until(
    `${n} open streams${mode ? ` (${mode})` : ""}`,
    async () => {
      const s = await stats();
      const ok = s.open_connections === n && (!mode || s.streams_by_mode?.[mode] === n);
      return ok ? s : notYet(`open_connections ${s.open_connections}, by mode ${JSON.stringify(s.streams_by_mode)}`);
    },
    { timeoutMs },
  );
}

/** Injects one device event and returns its id. */
export async function inject(device, state = "online") {
  const response = await fetch(`${BASE}/api/devices/${device}/${state}`, { method: "POST" });
  const text = await response.text();
  assert.ok(response.status < 300, `inject ${device}/${state}: ${response.status} ${text}`);
  const body = JSON.parse(text);
  assert.equal(typeof body.id, "number", `inject answered ${text}`);
  return body.id;
}

/** A device id no other test uses. */
export function uniqueDevice(prefix = "ff") {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/**
 * Publishes `count` events at `perSecond` (on a fixed schedule, so a slow request does not slow
 * the rate) in the background. `injected` fills as they go; `done` settles when all are out.
 */
export function publishBurst(device, count, perSecond = 20) {
  const injected = [];
  const start = Date.now();
  const done = (async () => {
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / perSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      injected.push(await inject(device, i % 2 ? "offline" : "online"));
    }
  })();
  done.catch(() => {});
  return { injected, done };
}

// ---- tabs --------------------------------------------------------------------------------------

/**
 * A page's `document.body.dataset`, or null when it does not answer within `timeoutMs` (a page
 * whose navigation never finished, or a crashed one) or has no body.
 */
export async function datasetOf(page, timeoutMs = 3000) {
  let timer;
  try {
    return await Promise.race([
      page.evaluate(() => (document.body ? { ...document.body.dataset } : null)).catch(() => null),
      new Promise((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A tab: its page and the id it picked when it hydrated. */
export class Tab {
  constructor(page, tabId) {
    this.page = page;
    this.tabId = tabId;
  }
  /** Its dataset if it is still this hydrated page (not crashed, not gone), else null. */
  async state() {
    const d = await datasetOf(this.page);
    return d && d.tabId === this.tabId ? d : null;
  }
  async alive() {
    return (await this.state()) !== null;
  }
  /** Every `data-event-id` it renders, in DOM order. */
  eventIds() {
    return this.page.evaluate(() =>
      Array.from(document.querySelectorAll("[data-event-id]"), (el) => Number(el.getAttribute("data-event-id"))),
    );
  }
}

/** Opens `n` tabs of `path` in `context`, one after the other, and waits until each hydrated. */
/**
 * Opens `n` tabs of `path` (each with `scripts`, `[fn, arg]` pairs run before the page's own) and
 * waits until each hydrated.
 */
export async function openTabs(context, n, path, scripts = []) {
  const pages = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    for (const [script, arg] of scripts) await page.evaluateOnNewDocument(script, arg);
    await page.goto(`${BASE}${path}`, { waitUntil: "load", timeout: 30_000 });
    pages.push(page);
  }
  const tabs = [];
  for (const page of pages) {
    const d = await until("the tab hydrated and picked an id", async () => {
      const d = await datasetOf(page);
      return d?.tabId ? d : null;
    });
    tabs.push(new Tab(page, d.tabId));
  }
  return tabs;
}

/** The tabs of `tabs` that still answer as themselves (a crash may take several). */
export async function survivors(tabs) {
  const alive = await Promise.all(tabs.map((t) => t.alive()));
  return tabs.filter((_, i) => alive[i]);
}

/**
 * Waits until the tabs share one connection holder: exactly one leader that every tab names
 * (returns it), or in sharedworker mode every tab a follower of `shared-worker` (returns null).
 */
export async function waitForOneHolder(tabs, mode, timeoutMs = 20_000) {
  return until(
    mode === "sharedworker" ? "every tab following the shared worker" : "exactly one leader that every tab knows",
    async () => {
      const states = await Promise.all(tabs.map((t) => t.state()));
      if (states.some((s) => s === null)) notYet(`${states.filter((s) => !s).length} tabs do not answer`);
      if (mode === "sharedworker") {
        const ok = states.every((s) => s.role === "follower" && s.leaderId === "shared-worker");
        return ok ? { leader: null, states } : notYet(`roles ${states.map((s) => `${s.role}/${s.leaderId}`)}`);
      }
      const leaders = states.filter((s) => s.role === "leader");
      if (leaders.length !== 1) notYet(`${leaders.length} leaders`);
      if (!states.every((s) => s.leaderId === leaders[0].tabId)) notYet("tabs disagree on the leader");
      return { leader: tabs[states.indexOf(leaders[0])], states };
    },
    { timeoutMs },
  );
}

/** Waits until `tab` shows every event of `ids`, then checks it shows each exactly once. */
export async function expectEveryEventOnce(tab, ids, timeoutMs = 20_000) {
  const wanted = new Set(ids);
  try {
    await until(
      `tab ${tab.tabId} to show all ${ids.length} events`,
      async () => {
        const shown = new Set(await tab.eventIds());
        const missing = ids.filter((id) => !shown.has(id));
        return missing.length === 0 || notYet(`${missing.length} missing`);
      },
      { timeoutMs },
    );
  } catch (err) {
    const shown = new Set(await tab.eventIds().catch(() => []));
    const missing = ids.filter((id) => !shown.has(id));
    throw new Error(`${err.message}; missing ${missing.length}: ${missing.slice(0, 20).join(",")}`);
  }
  const shown = await tab.eventIds();
  const mine = shown.filter((id) => wanted.has(id));
  assert.equal(mine.length, ids.length, `tab ${tab.tabId} shows some of the ${ids.length} events twice`);
  assert.equal(new Set(shown).size, shown.length, `tab ${tab.tabId} shows an event twice`);
}

/**
 * Crashes the content process of `tab` (the goto never resolves) and waits until the tab no
 * longer answers as itself. Other tabs of that process die with it.
 */
export async function crash(tab) {
  tab.page.goto("about:crashcontent", { timeout: 2000 }).catch(() => {});
  await until(`tab ${tab.tabId} to crash`, async () => !(await tab.alive()), { timeoutMs: 10_000 });
}

/** A browser context per test (Locks, BroadcastChannel, storage and the worker are per context). */
export async function withContext(browser, body) {
  const context = await browser.createBrowserContext();
  try {
    return await body(context);
  } finally {
    await context.close().catch(() => {});
  }
}
