/**
 * What the benchmarks share: arguments, a Chromium or a Firefox, polling, the HTTP API, and
 * quantiles. Benchmarks print figures; they are not tests and are not run by scripts/test.
 *
 * `--browser=chromium` (default), `--browser=firefox` or `--browser=chromium,firefox`: Chromium
 * through Playwright, Debian's Firefox ESR through puppeteer-core over WebDriver BiDi (Playwright's
 * Firefox is a patched build that cannot be downloaded here). Both are driven through the same
 * few calls (`newContext`, `newPage`, `goto`, `evaluate`, `close`); only crashing differs, and
 * Firefox has no CDP, so the freeze fault and CDP metrics exist in Chromium only.
 */
import { chromium, request as http } from "@playwright/test";
import puppeteer from "puppeteer-core";

/** `--key=value` arguments (a bare `--flag` is "true"). */
export const args = Object.fromEntries(
  process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")).map(([k, v]) => [k, v ?? "true"]),
);
export let BASE = args.base ?? "http://127.0.0.1:3000";
const POLL_MS = 2;

export let api = await http.newContext({ baseURL: BASE });

/**
 * Points `BASE`, `api` and every helper here at another server (an `https://` one with a
 * self-signed certificate is accepted).
 */
export async function useServer(base) {
  await api.dispose();
  BASE = base;
  api = await http.newContext({ baseURL: base, ignoreHTTPSErrors: true });
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** The engines `--browser=` asks for, in order. */
export const ENGINES = (args.browser ?? "chromium").split(",");
for (const engine of ENGINES) {
  if (engine !== "chromium" && engine !== "firefox") throw new Error(`--browser: chromium or firefox, not ${engine}`);
}

/**
 * A browser with `newContext()` and `close()` for `engine`, plus `engine` and `label`. In Firefox
 * each `newPage()` selects its tab, so every other tab of the window is hidden (timers throttled to
 * >= 1 s): that is how most tabs of real users run, and what Chromium headless never shows.
 */
export async function launchBrowser(engine) {
  if (engine === "chromium") {
    const browser = await launchChromium();
    return Object.assign(browser, { engine, label: `Chromium ${browser.version()} (Playwright)` });
  }
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr",
    headless: true,
    // Lets BiDi navigate to about:crashcontent (the crash fault); refused without it.
    args: ["-remote-allow-system-access"],
    // Budget-based throttling of background tabs at once, not 30 s after load (as in the suite).
    extraPrefsFirefox: { "dom.timeout.throttling_delay": 0 },
    // The self-signed certificate of a `--tls self-signed` server (bench-modes' HTTP/2 runs).
    acceptInsecureCerts: true,
  });
  // The initial blank tab stays open: closing a Firefox window's last tab does nothing.
  return {
    engine,
    label: `Firefox ${(await browser.version()).replace(/^firefox\//, "")} ESR (puppeteer-core, WebDriver BiDi)`,
    newContext: () => browser.createBrowserContext(),
    close: () => browser.close(),
  };
}

/**
 * Crashes `page`'s renderer without waiting. Chromium: CDP `Page.crash`. Firefox: navigating to
 * about:crashcontent kills the tab's content process, which other tabs may share (see `answering`).
 */
export async function crash(engine, context, page) {
  if (engine === "chromium") {
    const cdp = await context.newCDPSession(page);
    cdp.send("Page.crash").catch(() => {});
  } else {
    page.goto("about:crashcontent", { timeout: 2000 }).catch(() => {});
  }
}

/** A page's dataset, or `{}` if it does not answer within `timeoutMs` (crashed, or never loaded). */
export async function datasetWithin(page, timeoutMs = 2000) {
  let timer;
  try {
    return await Promise.race([
      page.evaluate(() => ({ ...document.body?.dataset })).catch(() => ({})),
      new Promise((resolve) => (timer = setTimeout(() => resolve({}), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each page's tab id (hydrated pages), to tell later whether a page still answers as itself. */
export async function tabIdsOf(pages) {
  return new Map(await Promise.all(pages.map(async (page) => [page, (await dataset(page)).tabId])));
}

/**
 * After a crash of `victim`: waits until it no longer answers as itself, then returns the `pages`
 * that still do (in Firefox a crash takes every tab of the content process with it).
 */
export async function answering(victim, pages, tabIds) {
  await until("the crashed tab to go", async () => (await datasetWithin(victim)).tabId !== tabIds.get(victim));
  const states = await Promise.all(pages.map((page) => datasetWithin(page)));
  return pages.filter((page, i) => states[i].tabId === tabIds.get(page));
}

/** Polls `check` until it returns something truthy, and returns that. */
export async function until(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export const dataset = (page) => page.evaluate(() => ({ ...document.body.dataset }));
export const stats = async () => (await api.get("/api/stats")).json();
export const openConnections = async () => (await stats()).open_connections;
export const quiet = () => until("a quiet server", async () => (await openConnections()) === 0);

/** The one leader every page agrees on: `{page, state}`. */
export async function oneLeader(pages) {
  return until("one leader", async () => {
    const states = await Promise.all(pages.map(dataset));
    const leaders = states.filter((s) => s.role === "leader");
    if (leaders.length !== 1 || !states.every((s) => s.leaderId === leaders[0].tabId)) return null;
    return { page: pages[states.indexOf(leaders[0])], state: leaders[0] };
  });
}

/** Injects one device event and returns its id. */
export async function inject(device) {
  const response = await api.post(`/api/devices/${device}/online`);
  if (!response.ok()) throw new Error(`inject failed: ${response.status()} ${await response.text()}`);
  return (await response.json()).id;
}

/** Opens `n` tabs of `path` and waits until each has hydrated. */
export async function openTabs(context, n, path) {
  const pages = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    await page.goto(`${BASE}${path}`);
    pages.push(page);
  }
  for (const page of pages) await until("hydration", async () => (await dataset(page)).tabId);
  return pages;
}

/** When `page` received event `id` (ms on the browser's clock), once it has. */
export function receivedAt(page, id) {
  return until(`event ${id}`, () =>
    page.evaluate(
      (id) => document.querySelector(`[data-event-id="${id}"]`)?.getAttribute("data-received-at"),
      id,
    ),
  ).then(Number);
}

/** Relay latencies (ms) `page` recorded for the events `ids`. */
export function latencies(page, ids) {
  return page.evaluate(
    (wanted) =>
      Array.from(document.querySelectorAll("[data-event-id]"))
        .filter((el) => wanted.includes(Number(el.getAttribute("data-event-id"))))
        .map((el) => Number(el.getAttribute("data-latency")))
        .filter((x) => Number.isFinite(x) && x >= 0),
    ids,
  );
}

export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
export const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : "n/a");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Installed before the page's scripts: `window.__benchHide(bool)` hides or shows the page. */
export const HIDE_SCRIPT = () => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { get: () => hidden });
  window.__benchHide = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
  };
};

/**
 * The profiling scripts' setup (`profile-tab`, `trace-tab`, `count-calls`): a quiet server, a new
 * Chromium, `tabs` tabs of `path` in one context (with `initScripts` installed before the page's
 * own), one of them leading, all hidden when `hidden`.
 */
export async function profiledTabs({ tabs, path, hidden, initScripts = [] }) {
  await quiet();
  const browser = await launchChromium();
  const context = await browser.newContext();
  await context.addInitScript(HIDE_SCRIPT);
  for (const script of initScripts) await context.addInitScript(script);
  const pages = await openTabs(context, tabs, path);
  const { page: leader } = await oneLeader(pages);
  if (hidden) for (const p of pages) await p.evaluate(() => window.__benchHide(true));
  return { browser, context, pages, leader };
}

/** Publishes `events` device events at `rate` a second, on ten devices named `${prefix}-N`. */
export async function publishPaced(events, rate, prefix) {
  const start = performance.now();
  for (let i = 0; i < events; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    await api.post(`/api/devices/${prefix}-${i % 10}/${i % 2 ? "offline" : "online"}`);
  }
}
