#!/usr/bin/env node
/**
 * What one event costs a tab, in Debian's Chromium (run by scripts/bench-client, which builds and
 * starts a release server). Not part of the test suite: it prints figures.
 *
 * For 1, 2 and 8 tabs of one context, visible and hidden, at 20 and 100 events a second:
 *   - main-thread time per event per tab: CDP `Performance.getMetrics` deltas of `TaskDuration`
 *     (all main-thread tasks), `ScriptDuration` (JS and wasm), `LayoutDuration` and
 *     `RecalcStyleDuration`; "other" is the rest of the tasks (paint, compositing setup, GC, …);
 *     "main-thread CPU" is `ThreadTime`, the CPU the main thread used (tasks' wall time also
 *     counts a task preempted by other processes, which 8 renderers on 2 cores are).
 *     The tabs' idle cost (heartbeats, ticking ages) is measured over an equal window with no
 *     events and subtracted, so the figure is what the events add;
 *   - relay latency p50 / p99, leader's send → follower's handling (the core stamps the send on
 *     the clock every tab shares, the follower takes the difference when it decodes the message,
 *     before any rendering: the rows' `data-latency`);
 *   - whether every tab got every event once, in order.
 * `--ui=off` loads `/?ui=off`: the runtime, the core and the tab's state without the dashboard's
 * panels, i.e. what the library itself costs an app per event (decode, dedupe, relay, state).
 *
 * Hidden tabs: headless Chromium shows every page as visible, and none of CDP's knobs change that
 * (tried on Chromium 156: `Emulation.setFocusEmulationEnabled` only moves focus,
 * `Page.setWebLifecycleState` freezes rather than hides, a minimized window and a
 * `Target.createTarget({background: true})` tab both stay `visible`). So a hidden tab is emulated
 * in the page: `document.visibilityState` / `document.hidden` are overridden and
 * `visibilitychange` is fired, which the runtime and the dashboard both listen to. The browser
 * itself still runs frames for such a page (a really hidden one runs none, and throttles its
 * timers), so the hidden figures are an upper bound.
 *
 *   node end2end/bench/client.mjs --base=http://127.0.0.1:3100 [--tabs=1,2,8] [--rates=20,100]
 *        [--visibility=visible,hidden] [--ui=on,off] [--seconds=3]
 */
import { cpus, loadavg } from "node:os";
import { args, api, launchChromium, until, oneLeader, openTabs, quiet, stats, quantile, sleep, HIDE_SCRIPT } from "./lib.mjs";

const TAB_COUNTS = (args.tabs ?? "1,2,8").split(",").map(Number);
const RATES = (args.rates ?? "20,100").split(",").map(Number);
const VISIBILITY = (args.visibility ?? "visible,hidden").split(",");
const UI = (args.ui ?? "on,off").split(",");
/** How long each measurement publishes events (the idle window before it is as long). */
const SECONDS = Number(args.seconds ?? 3);

/** How many events the dashboard's log keeps (`EVENT_LOG_CAPACITY`). */
const LOG_CAPACITY = 500;

// `ThreadTime`: the main thread's CPU time. `TaskDuration` is the tasks' wall time, which on a
// machine with fewer cores than busy renderers also counts the time a task waited, preempted.
const METRICS = ["TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "ThreadTime"];

async function metricsOf(cdp) {
  const { metrics } = await cdp.send("Performance.getMetrics");
  const byName = Object.fromEntries(metrics.map((m) => [m.name, m.value]));
  return Object.fromEntries(METRICS.map((name) => [name, byName[name] * 1000])); // ms
}

const diff = (after, before) => Object.fromEntries(METRICS.map((k) => [k, after[k] - before[k]]));

/** Main-thread ms spent by each page over `body()`, and the wall time it took. */
async function measure(cdps, body) {
  const before = await Promise.all(cdps.map(metricsOf));
  const start = performance.now();
  const result = await body();
  const wall = performance.now() - start;
  const after = await Promise.all(cdps.map(metricsOf));
  return { deltas: after.map((a, i) => diff(a, before[i])), wall, result };
}

const received = async (page) => Number(await page.evaluate(() => document.body.dataset.eventsReceived));

/** Publishes `count` events at `rate` a second (paced on a schedule, not after each answer). */
async function publish(device, count, rate) {
  const start = performance.now();
  const ids = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const response = await api.post(`/api/devices/${device}/${i % 2 ? "offline" : "online"}`);
    if (!response.ok()) throw new Error(`inject failed: ${response.status()}`);
    ids.push((await response.json()).id);
  }
  return ids;
}

/**
 * Resolves in the page once `check(arg)` holds, re-checked on every DOM mutation (attributes and
 * children, the whole document): one CDP call per page, and no work in the page between
 * mutations. Polling from here instead (`until`, every 2 ms) costs each page a `Runtime.evaluate`
 * per round, ~20 ms of main thread a second per tab with 8 tabs, which the measured window
 * counted as the events' cost (most of the hidden tabs' figure while the bench waited for their
 * once-a-second render).
 */
function inPage(page, what, arg, timeoutMs = 20_000) {
  return page.evaluate(
    ([what, arg, timeoutMs]) =>
      new Promise((resolve, reject) => {
        // (No `new Function`: the page's CSP may forbid eval.)
        const check = () =>
          what === "received"
            ? Number(document.body.dataset.eventsReceived) >= arg
            : !!document.querySelector(`[data-event-id="${arg}"]`);
        if (check()) return resolve(true);
        const observer = new MutationObserver(() => {
          if (!check()) return;
          observer.disconnect();
          clearTimeout(timer);
          resolve(true);
        });
        const timer = setTimeout(() => {
          observer.disconnect();
          reject(new Error(`timed out waiting in the page for ${what} ${arg}`));
        }, timeoutMs);
        observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true });
      }),
    [what, arg, timeoutMs],
  );
}

/** Waits until every page counted `total` events and, with the dashboard on, shows the last one. */
async function settled(pages, total, lastId, ui) {
  await Promise.all(pages.map((p) => inPage(p, "received", total)));
  if (ui === "on") {
    await Promise.all(pages.map((p) => inPage(p, "rendered", lastId)));
  }
}

/** Rendered ids in the order shown (newest first), restricted to `ids`. */
const shownOf = (page, ids) =>
  page.evaluate(
    (wanted) =>
      Array.from(document.querySelectorAll("[data-event-id]"), (el) => Number(el.getAttribute("data-event-id"))).filter(
        (id) => wanted.includes(id),
      ),
    ids,
  );

/** Follower relay latencies (ms) for `ids`, from their rows. */
const latenciesOf = (page, ids) =>
  page.evaluate(
    (wanted) =>
      Array.from(document.querySelectorAll("[data-event-id]"))
        .filter((el) => wanted.includes(Number(el.getAttribute("data-event-id"))))
        .map((el) => Number(el.getAttribute("data-latency")))
        .filter((x) => Number.isFinite(x) && x >= 0),
    ids,
  );

const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function run(browser, tabs, ui) {
  await quiet();
  const context = await browser.newContext();
  await context.addInitScript(HIDE_SCRIPT);
  const rows = [];
  try {
    const pages = await openTabs(context, tabs, ui === "off" ? "/?ui=off" : "/");
    const { page: leader } = await oneLeader(pages);
    await until("one connection", async () => (await stats()).open_connections === 1);
    const cdps = await Promise.all(pages.map((p) => context.newCDPSession(p)));
    await Promise.all(cdps.map((c) => c.send("Performance.enable")));
    const device = `bench-client-${tabs}-${ui}`;
    // Warm up: the first events grow the log and the device grid, and JIT the paths.
    let total = await received(pages[0]);
    const warm = await publish(device, 30, 100);
    total += warm.length;
    await settled(pages, total, warm.at(-1), ui);

    for (const visibility of VISIBILITY) {
      await Promise.all(pages.map((p) => p.evaluate((h) => window.__benchHide(h), visibility === "hidden")));
      // Settle in the new state (a tab that shows again catches up, hidden ones report it).
      const settle = await publish(device, 10, 100);
      total += settle.length;
      await settled(pages, total, settle.at(-1), ui);
      for (const rate of RATES) {
        const count = Math.round(rate * SECONDS);
        const idle = await measure(cdps, () => sleep(SECONDS * 1000));
        const busy = await measure(cdps, async () => {
          const ids = await publish(device, count, rate);
          total += ids.length;
          await settled(pages, total, ids.at(-1), ui);
          return ids;
        });
        const ids = busy.result;
        const perEvent = busy.deltas.map((d, i) => {
          const net = {};
          for (const k of METRICS) net[k] = (d[k] - (idle.deltas[i][k] * busy.wall) / idle.wall) / count;
          return net;
        });
        const lat = [];
        let inOrder = true;
        if (ui === "on") {
          for (const page of pages) {
            const shown = await shownOf(page, ids);
            // The log keeps the newest LOG_CAPACITY events (more than that in a row: `--seconds`).
            const expected = ids.slice(-LOG_CAPACITY).reverse();
            if (shown.length !== expected.length || shown.some((id, i) => id !== expected[i])) inOrder = false;
            if (page !== leader) lat.push(...(await latenciesOf(page, ids)));
          }
        }
        const leaderCost = perEvent[pages.indexOf(leader)];
        const followers = perEvent.filter((_, i) => pages[i] !== leader);
        const avg = (k) => mean(perEvent.map((p) => p[k]));
        rows.push({
          tabs,
          ui,
          visibility,
          rate,
          task: avg("TaskDuration"),
          maxTask: Math.max(...perEvent.map((p) => p.TaskDuration)),
          script: avg("ScriptDuration"),
          layout: avg("LayoutDuration"),
          style: avg("RecalcStyleDuration"),
          other: avg("TaskDuration") - avg("ScriptDuration") - avg("LayoutDuration") - avg("RecalcStyleDuration"),
          cpu: avg("ThreadTime"),
          leader: leaderCost.TaskDuration,
          follower: followers.length ? mean(followers.map((p) => p.TaskDuration)) : NaN,
          p50: quantile(lat, 0.5),
          p99: quantile(lat, 0.99),
          order: ui === "on" ? (inOrder ? "yes" : "NO") : "n/a",
          load: loadavg()[0],
        });
        printRow(rows.at(-1));
      }
    }
    await Promise.all(pages.map((p) => p.evaluate(() => window.__benchHide(false))));
  } finally {
    await context.close();
  }
  return rows;
}

function printHeader() {
  console.log(
    "| tabs | ui | tabs are | ev/s | ms/event/tab (max tab) | script | layout | style | other | main-thread CPU | leader | follower | relay p50 / p99 | all once, in order | load |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
}

function printRow(r) {
  console.log(
    `| ${r.tabs} | ${r.ui} | ${r.visibility} | ${r.rate} | ${fmt(r.task)} (${fmt(r.maxTask)}) | ${fmt(r.script)} | ${fmt(r.layout)} | ${fmt(r.style)} | ${fmt(r.other)} | ${fmt(r.cpu)} | ${fmt(r.leader)} | ${fmt(r.follower)} | ${fmt(r.p50, 1)} / ${fmt(r.p99, 1)} ms | ${r.order} | ${fmt(r.load, 1)} |`,
  );
}

const browser = await launchChromium();
console.log(
  `Chromium ${browser.version()}, ${SECONDS} s of events per row, idle cost subtracted; all figures in ms; ` +
    `load = the machine's 1-minute load average after the row (${cpus().length} cores): figures taken under load are not comparable`,
);
printHeader();
try {
  for (const ui of UI) for (const tabs of TAB_COUNTS) await run(browser, tabs, ui);
} finally {
  await browser.close();
  await api.dispose();
}
