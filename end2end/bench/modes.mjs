#!/usr/bin/env node
/**
 * The four modes side by side, in Debian's Chromium (run by scripts/bench-modes, which builds and
 * starts a release server). Prints one comparison table:
 *
 *   - connections: server streams once N tabs of one browser settle (N = 1, 6, 7, 12), and how many
 *     of the N tabs receive an event published then ("live"; the rest starve);
 *   - failover (close, crash): the tab holding the connection (the leader; for naive and the
 *     worker, a tab that is not the first) goes away, an event is published at once, and the time
 *     from the fault until every remaining tab has it, p50 / p95 over the trials;
 *   - relay latency: connection holder → each other tab, over 200 events (none in naive mode);
 *   - idle CPU per tab: main-thread busy time while nothing is published (see `idleCpu`);
 *   - memory per tab: CDP Performance.getMetrics JSHeapUsedSize, plus the tab's wasm linear memory
 *     (`data-wasm-memory`), which the JS heap leaves out; and the SharedWorker's own JS heap.
 *
 *   node end2end/bench/modes.mjs [--base=URL] [--trials=10] [--tabs=6] [--modes=naive,leader,...]
 *                                [--browser=chromium|firefox|chromium,firefox]
 *
 * In Firefox (puppeteer-core over WebDriver BiDi, no CDP) the table has the rows that need no CDP:
 * connections, interruption on close and crash, relay latency and wasm memory. Only the newest
 * tab is visible there, so the leader (the first tab) and most followers are hidden; a crash
 * (about:crashcontent) may take other tabs of its content process with it, and the interruption
 * is then timed over the tabs that still answer.
 */
import {
  args, BASE, ENGINES, launchBrowser, crash, answering, tabIdsOf, until, oneLeader, inject, openTabs, quiet, stats,
  dataset, receivedAt, latencies, quantile, ms, sleep,
} from "./lib.mjs";

const MODES = (args.modes ?? "naive,leader,storage,sharedworker").split(",");
const TRIALS = Number(args.trials ?? 10);
/** Tabs in the failover, relay and memory runs: 6, so naive tabs are not starved there. */
const TABS = Number(args.tabs ?? 6);
const COUNTS = [1, 6, 7, 12];
/** A tab that has not received the probe event this long after the others is starved. */
const STARVED_AFTER_MS = 3000;
/** How long the idle CPU is sampled. */
const IDLE_MS = 5000;

let browser;
const path = (mode) => `/?mode=${mode}`;
const elects = (mode) => mode === "leader" || mode === "storage";

/** Waits until the server's count has not moved for `stableMs`; returns it. */
async function settledConnections(stableMs = 1500, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const now = (await stats()).open_connections;
    if (now !== last) [last, since] = [now, Date.now()];
    if (now > 0 && Date.now() - since >= stableMs) return now;
    if (Date.now() > deadline) return now;
    await sleep(100);
  }
}

async function connections(mode, n) {
  await quiet();
  const context = await browser.newContext();
  try {
    const pages = [];
    for (let i = 0; i < n; i++) {
      const page = await context.newPage();
      // Not awaited: in naive mode the tabs past the 6th never finish loading.
      page.goto(`${BASE}${path(mode)}`).catch(() => {});
      pages.push(page);
    }
    const open = await settledConnections();
    const id = await inject(`bench-conns-${mode}`);
    // A tab whose page never loaded cannot even answer (`evaluate` waits for its document).
    const has = (page) =>
      Promise.race([
        page.evaluate((id) => !!document.querySelector(`[data-event-id="${id}"]`), id).catch(() => false),
        sleep(500).then(() => false),
      ]);
    const got = await Promise.all(
      pages.map((page) =>
        until("the probe event", () => has(page), STARVED_AFTER_MS)
          .then(() => 1)
          .catch(() => 0),
      ),
    );
    return { open, live: got.reduce((a, b) => a + b, 0) };
  } finally {
    await context.close();
  }
}

/** Waits for the mode's steady state: one leader, or the one worker stream, or every naive stream. */
async function settle(mode, pages) {
  const expected = mode === "naive" ? pages.length : 1;
  await until("the connections", async () => (await stats()).open_connections === expected);
  if (elects(mode)) return (await oneLeader(pages)).page;
  // No leader tab: take the last one (the worker's tab, if any, is likely the first).
  return pages[pages.length - 1];
}

async function failover(mode, fault) {
  await quiet();
  const context = await browser.newContext();
  try {
    const pages = await openTabs(context, TABS, path(mode));
    const tabIds = await tabIdsOf(pages);
    const holder = await settle(mode, pages);
    let survivors = pages.filter((p) => p !== holder);
    const faultAt = Date.now();
    if (fault === "close") {
      await holder.close({ runBeforeUnload: false });
    } else {
      await crash(browser.engine, context, holder);
    }
    if (fault === "crash" && browser.engine === "firefox") {
      // Publish once the crash took effect (it lags the goto by a few ms), as in failover.mjs.
      survivors = await answering(holder, survivors, tabIds);
      if (!survivors.length) throw new Error("the crash took every tab");
    }
    const gap = await inject(`bench-${mode}-${fault}`);
    const times = await Promise.all(survivors.map((page) => receivedAt(page, gap)));
    return Math.max(...times) - faultAt;
  } finally {
    await context.close();
  }
}

/** Relay latencies over 200 events, then memory per tab with those events in the log. */
async function relayAndMemory(mode) {
  await quiet();
  const context = await browser.newContext();
  try {
    const pages = await openTabs(context, TABS, path(mode));
    const holder = await settle(mode, pages);
    const ids = [];
    for (let i = 0; i < 200; i++) {
      ids.push(await inject(`bench-relay-${mode}`));
      await sleep(10);
    }
    const relay = [];
    for (const page of pages) {
      await receivedAt(page, ids[ids.length - 1]);
      if (mode === "sharedworker" || page !== holder) relay.push(...(await latencies(page, ids)));
    }
    const wasm = [];
    if (browser.engine !== "chromium") {
      // No CDP: no main-thread time, no JS heap; the wasm memory is in the page's dataset.
      for (const page of pages) wasm.push(Number((await dataset(page)).wasmMemory));
      return { relay: mode === "naive" ? [] : relay, heap: NaN, wasm: mean(wasm), worker: NaN, idle: NaN };
    }
    const idle = await idleCpu(context, pages);
    const heaps = [];
    for (const page of pages) {
      const cdp = await context.newCDPSession(page);
      await cdp.send("HeapProfiler.collectGarbage");
      await cdp.send("Performance.enable");
      const { metrics } = await cdp.send("Performance.getMetrics");
      heaps.push(metrics.find((m) => m.name === "JSHeapUsedSize").value);
      wasm.push(Number((await dataset(page)).wasmMemory));
      await cdp.detach();
    }
    const worker = mode === "sharedworker" ? await sharedWorkerHeap() : NaN;
    return { relay: mode === "naive" ? [] : relay, heap: mean(heaps), wasm: mean(wasm), worker, idle };
  } finally {
    await context.close();
  }
}

/**
 * Main-thread busy time per tab while nothing is published (heartbeats, presence, the ticking
 * ages): CDP TaskDuration over `IDLE_MS`, as a share of one core, averaged over the tabs. Every
 * Playwright tab counts as visible, so painting is included; a hidden tab paints nothing.
 */
async function idleCpu(context, pages) {
  const sessions = await Promise.all(pages.map((page) => context.newCDPSession(page)));
  const busy = () =>
    Promise.all(
      sessions.map(async (cdp) => {
        const { metrics } = await cdp.send("Performance.getMetrics");
        return metrics.find((m) => m.name === "TaskDuration").value;
      }),
    );
  await Promise.all(sessions.map((cdp) => cdp.send("Performance.enable")));
  const before = await busy();
  await sleep(IDLE_MS);
  const after = await busy();
  await Promise.all(sessions.map((cdp) => cdp.detach()));
  return mean(after.map((t, i) => t - before[i])) / (IDLE_MS / 1000);
}

/** The SharedWorker's used JS heap, through the browser's CDP target list. */
async function sharedWorkerHeap() {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const { targetInfos } = await cdp.send("Target.getTargets");
    const worker = targetInfos.find((t) => t.type === "shared_worker");
    if (!worker) return NaN;
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId: worker.targetId, flatten: false });
    const reply = new Promise((resolve) =>
      cdp.on("Target.receivedMessageFromTarget", (event) => {
        const message = JSON.parse(event.message);
        if (message.id === 1) resolve(message.result);
      }),
    );
    const message = JSON.stringify({ id: 1, method: "Runtime.getHeapUsage" });
    await cdp.send("Target.sendMessageToTarget", { sessionId, message });
    const result = await Promise.race([reply, sleep(5000).then(() => null)]);
    return result ? result.usedSize : NaN;
  } catch (err) {
    console.error(`  (worker heap: ${err.message})`);
    return NaN;
  } finally {
    await cdp.detach();
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const mb = (bytes) => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : "n/a");
const cell = (xs) => `${ms(quantile(xs, 0.5))} / ${ms(quantile(xs, 0.95))}`;

for (const engine of ENGINES) {
  browser = await launchBrowser(engine);
  const rows = {};
  for (const mode of MODES) {
    const row = (rows[mode] = {});
    for (const n of COUNTS) row[`tabs${n}`] = await connections(mode, n);
    for (const fault of ["close", "crash"]) {
      const times = [];
      for (let i = 0; i < TRIALS; i++) {
        try {
          times.push(await failover(mode, fault));
        } catch (err) {
          console.error(`  ${engine}: ${mode}/${fault} trial ${i}: ${err.message}`);
        }
      }
      row[fault] = times;
    }
    Object.assign(row, await relayAndMemory(mode));
    console.error(`  ${engine}: ${mode} done`);
  }
  await browser.close();

  if (engine === "chromium") {
    console.log(`\nmodes benchmark: ${BASE}; failover ${TRIALS} trials × ${TABS} tabs; relay 200 events × ${TABS} tabs`);
  } else {
    console.log(`\nmodes benchmark, ${browser.label}: ${BASE}; failover ${TRIALS} trials × ${TABS} tabs; relay 200 events × ${TABS} tabs`);
  }
  console.log("(connections: server streams, and tabs that got a live event, of N tabs in one browser)\n");
  const header = ["", ...MODES];
  const line = (label, f) => [label, ...MODES.map((m) => f(rows[m]))];
  const cdp = engine === "chromium";
  const table = [
    header,
    ...COUNTS.map((n) => line(`connections, ${n} tab${n > 1 ? "s" : ""}`, (r) => `${r[`tabs${n}`].open} (${r[`tabs${n}`].live}/${n} live)`)),
    line("interruption on close p50 / p95", (r) => cell(r.close)),
    line("interruption on crash p50 / p95", (r) => cell(r.crash)),
    line("relay latency p50 / p99", (r) => (r.relay.length ? `${ms(quantile(r.relay, 0.5))} / ${ms(quantile(r.relay, 0.99))}` : "none (direct)")),
    ...(cdp ? [line("idle main-thread CPU per tab", (r) => `${(r.idle * 100).toFixed(1)} %`), line("JS heap per tab", (r) => mb(r.heap))] : []),
    line("wasm memory per tab", (r) => mb(r.wasm)),
    ...(cdp ? [line("shared worker JS heap", (r) => mb(r.worker))] : []),
  ];
  const widths = header.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const print = (r) => console.log(`| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`);
  print(table[0]);
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  table.slice(1).forEach(print);
}
process.exit(0);
