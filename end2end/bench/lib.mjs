/**
 * What the benchmarks share: arguments, a Chromium, polling, the HTTP API, and quantiles.
 * Benchmarks print figures; they are not tests and are not run by scripts/test.
 */
import { chromium, request as http } from "@playwright/test";

/** `--key=value` arguments (a bare `--flag` is "true"). */
export const args = Object.fromEntries(
  process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")).map(([k, v]) => [k, v ?? "true"]),
);
export const BASE = args.base ?? "http://127.0.0.1:3000";
const POLL_MS = 2;

export const api = await http.newContext({ baseURL: BASE });

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
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
