#!/usr/bin/env node
/**
 * Every mode side by side, over HTTP/1.1 and over HTTP/2, in Debian's Chromium (run by
 * scripts/bench-modes, which builds the release server). For each protocol and mode the benchmark
 * starts a fresh release server of its own (so its RSS is that mode's, not the previous one's
 * high-water mark): plain HTTP/1.1 on `--port`, or HTTPS (`--tls self-signed`, ALPN offers h2
 * first) on `--port` + 10, each with three shard ports after it for `?mode=sharded`. It prints:
 *
 *   - connections, for N = 1, 6, 7, 12, 50 tabs of one browser (`--counts=`), once the server's
 *     stream count and the tabs that loaded have both settled: server streams, TCP connections the
 *     browser holds to the server (its main and shard ports, counted by `ss`, idle keep-alive
 *     ones included), and how many of the N tabs receive an event published then ("live"; the
 *     rest starve, or, in hidden-close, are hidden and catch up when shown); and the server's RSS;
 *   - failover (close, crash): the tab holding the connection (the leader; for the tabs that each
 *     hold their own, and the worker, a tab that is not the first) goes away, an event is
 *     published at once, and the time from the fault until every remaining tab has it, p50 / p95
 *     over the trials;
 *   - relay latency: connection holder -> each other tab, over 200 events (none where every tab
 *     holds its own stream);
 *   - idle CPU per tab: main-thread busy time while nothing is published (see `idleCpu`);
 *   - memory per tab: CDP Performance.getMetrics JSHeapUsedSize, plus the tab's wasm linear memory
 *     (`data-wasm-memory`), which the JS heap leaves out; and the SharedWorker's own JS heap.
 *
 *   node end2end/bench/modes.mjs [--port=3100] [--server-bin=target/release/server] [--trials=10]
 *        [--tabs=6] [--counts=1,6,7,12,50] [--protocols=h1,h2]
 *        [--modes=naive,leader,storage,sharedworker,sharded,hidden-close]
 *        [--browser=chromium|firefox|chromium,firefox]
 *
 * hidden-close: headless Chromium shows every page as visible, so in the connections runs every
 * tab but the newest is told it is hidden (an init script overriding `document.visibilityState`,
 * as end2end/tests/rendering.spec.ts does), as in a browser window where the user looks at one
 * tab. Firefox really hides every tab but the newest. The failover, relay and memory runs keep
 * every tab visible (a hidden tab there would hold no stream to fail over).
 *
 * In Firefox (puppeteer-core over WebDriver BiDi, no CDP) the tables have the rows that need no
 * CDP: connections, interruption on close and crash, relay latency and wasm memory. Only the newest
 * tab is visible there, so the leader (the first tab) and most followers are hidden; a crash
 * (about:crashcontent) may take other tabs of its content process with it, and the interruption
 * is then timed over the tabs that still answer. For hidden-close that leaves a single visible tab
 * with a stream, so Firefox has no failover, relay or memory run for it.
 */
import { spawn, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  args, ENGINES, launchBrowser, crash, answering, tabIdsOf, until, oneLeader, inject, openTabs, quiet, stats,
  dataset, receivedAt, latencies, quantile, ms, sleep, useServer,
} from "./lib.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const MODES = (args.modes ?? "naive,leader,storage,sharedworker,sharded,hidden-close").split(",");
const PROTOCOLS = (args.protocols ?? "h1,h2").split(",");
for (const p of PROTOCOLS) if (p !== "h1" && p !== "h2") throw new Error(`--protocols: h1 or h2, not ${p}`);
const TRIALS = Number(args.trials ?? 10);
/** Tabs in the failover, relay and memory runs: 6, so naive tabs over HTTP/1.1 are not starved. */
const TABS = Number(args.tabs ?? 6);
const COUNTS = (args.counts ?? "1,6,7,12,50").split(",").map(Number);
const PORT = Number(args.port ?? 3100);
const SERVER_BIN = path.resolve(ROOT, args["server-bin"] ?? "target/release/server");
/**
 * A tab that has not received the probe event this long after the publish is not live: 3 s, and
 * more for many tabs (50 busy tabs on 2 loaded cores answer slowly; a starved tab never does).
 */
const starvedAfterMs = (n) => 3000 + 100 * n;
/** How long the idle CPU is sampled. */
const IDLE_MS = 5000;
const T0 = Date.now();
const progress = (what) => console.error(`[${((Date.now() - T0) / 1000).toFixed(0).padStart(5)} s] ${what}`);

let browser;
const path_ = (mode) => `/?mode=${mode}`;
const elects = (mode) => mode === "leader" || mode === "storage";
/** The modes where every (visible) tab holds a stream of its own. */
const ownStream = (mode) => mode === "naive" || mode === "sharded" || mode === "hidden-close";

// ---------------------------------------------------------------------------------------------
// The server of one (protocol, mode): a fresh release server process.

/** Ports of the server for `protocol`: the main one, then three shard ports. */
const portsOf = (protocol) => {
  const main = PORT + (protocol === "h2" ? 10 : 0);
  return [main, main + 1, main + 2, main + 3];
};
/** The self-signed certificate names localhost (see end2end/tests/own-server.ts). */
const baseOf = (protocol) =>
  protocol === "h2" ? `https://localhost:${portsOf(protocol)[0]}` : `http://127.0.0.1:${portsOf(protocol)[0]}`;

let server = null;
process.on("exit", () => server?.child.kill("SIGKILL"));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

async function startServer(protocol) {
  const [main, ...shards] = portsOf(protocol);
  const env = {
    ...process.env,
    LEPTOS_OUTPUT_NAME: "tabrelay",
    LEPTOS_SITE_ROOT: "target/site",
    LEPTOS_SITE_PKG_DIR: "pkg",
    LEPTOS_SITE_ADDR: `127.0.0.1:${main}`,
    LEPTOS_ENV: "PROD",
    TABRELAY_SIM_INTERVAL_MS: "0",
    TABRELAY_SHARD_PORTS: shards.join(","),
    RUST_LOG: "warn",
  };
  if (protocol === "h2") env.TABRELAY_TLS = "self-signed";
  else delete env.TABRELAY_TLS;
  const child = spawn(SERVER_BIN, [], { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  server = { child, exited, ports: [main, ...shards], protocol, base: baseOf(protocol) };
  await useServer(baseOf(protocol));
  await until(
    `the server on ${main}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`the server on ${main} exited (${child.exitCode})`);
      return stats().then(() => true).catch(() => false);
    },
    20_000,
  );
}

async function stopServer() {
  if (!server) return;
  const { child, exited } = server;
  server = null;
  child.kill("SIGTERM");
  let timer;
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    await exited;
  }
}

/** The server's resident set (VmRSS), in bytes. */
function serverRss() {
  const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)[1]) * 1024;
}

/**
 * TCP connections established to the server's ports (main and shards) from anything but this
 * process (its API client): the browser's, streams and idle keep-alive ones alike.
 */
function tcpConnections() {
  const filter = `( ${server.ports.map((p) => `dport = :${p}`).join(" or ")} )`;
  const out = execFileSync("ss", ["-Htnp", "state", "established", filter], { encoding: "utf8" });
  return out.split("\n").filter((line) => line.trim() && !line.includes(`pid=${process.pid},`)).length;
}

// ---------------------------------------------------------------------------------------------
// Connections for N tabs.

/** Installed before the page's scripts: the page is hidden (headless Chromium shows it visible). */
function hiddenPage() {
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => "hidden" });
  Object.defineProperty(Document.prototype, "hidden", { get: () => true });
}

/** Whether `page` answers within `timeoutMs` with a value of `fn` (a page that never loaded does not). */
const answer = (page, fn, arg, timeoutMs = 2000) =>
  Promise.race([page.evaluate(fn, arg).catch(() => undefined), sleep(timeoutMs).then(() => undefined)]);

/**
 * Waits until the server's stream count and the number of hydrated tabs have both not moved for
 * `stableMs` (tabs past a browser's cap never load, so "all hydrated" cannot be the condition);
 * returns the stream count.
 */
async function settledConnections(pages, stableMs, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  let since = Date.now();
  for (;;) {
    const open = (await stats()).open_connections;
    const hydrated = (await Promise.all(pages.map((p) => answer(p, () => document.body?.dataset.tabId)))).filter(
      Boolean,
    ).length;
    const now = `${open}/${hydrated}`;
    if (now !== last) [last, since] = [now, Date.now()];
    if (open > 0 && Date.now() - since >= stableMs) return { open, hydrated };
    if (Date.now() > deadline) {
      progress(`  (not settled after ${timeoutMs / 1000} s: ${open} streams, ${hydrated} tabs hydrated)`);
      return { open, hydrated };
    }
    await sleep(200);
  }
}

async function connections(mode, n) {
  await quiet();
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const pages = [];
    for (let i = 0; i < n; i++) {
      const page = await context.newPage();
      // Every tab but the newest is hidden (Firefox hides them itself).
      if (mode === "hidden-close" && browser.engine === "chromium" && i < n - 1) await page.addInitScript(hiddenPage);
      // Not awaited: over HTTP/1.1 the naive tabs past the browser's cap never finish loading.
      page.goto(`${server.base}${path_(mode)}`, { timeout: 0 }).catch(() => {});
      pages.push(page);
    }
    const { open, hydrated } = await settledConnections(pages, n > 12 ? 3000 : 1500, 30_000 + 2_000 * n);
    const tcp = tcpConnections();
    const rss = serverRss();
    const byVersion = (await stats()).streams_by_http_version ?? {};
    const id = await inject(`bench-conns-${mode}`);
    const has = (page) => answer(page, (id) => !!document.querySelector(`[data-event-id="${id}"]`), id);
    const got = await Promise.all(
      pages.map((page) =>
        until("the probe event", () => has(page), starvedAfterMs(n))
          .then(() => 1)
          .catch(() => 0),
      ),
    );
    return { open, hydrated, tcp, rss, byVersion, live: got.reduce((a, b) => a + b, 0) };
  } finally {
    await context.close();
  }
}

/** Waits for the mode's steady state (every tab visible): one leader, one worker stream, or a stream per tab. */
async function settle(mode, pages) {
  const expected = ownStream(mode) ? pages.length : 1;
  await until("the connections", async () => (await stats()).open_connections === expected);
  if (elects(mode)) return (await oneLeader(pages)).page;
  // No leader tab: take the last one (the worker's tab, if any, is likely the first).
  return pages[pages.length - 1];
}

async function failover(mode, fault) {
  await quiet();
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const pages = await openTabs(context, TABS, path_(mode));
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
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const pages = await openTabs(context, TABS, path_(mode));
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
      return { relay: ownStream(mode) ? [] : relay, heap: NaN, wasm: mean(wasm), worker: NaN, idle: NaN };
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
    return { relay: ownStream(mode) ? [] : relay, heap: mean(heaps), wasm: mean(wasm), worker, idle };
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
const cell = (xs) => (xs.length ? `${ms(quantile(xs, 0.5))} / ${ms(quantile(xs, 0.95))}` : "n/a");
const load = () => loadavg().map((x) => x.toFixed(2)).join(", ");

function printTable(table) {
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const print = (r) => console.log(`| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`);
  print(table[0]);
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  table.slice(1).forEach(print);
}

const started = new Date().toISOString();
const loadBefore = load();
for (const engine of ENGINES) {
  browser = await launchBrowser(engine);
  const rows = [];
  for (const protocol of PROTOCOLS) {
    for (const mode of MODES) {
      const row = { mode, protocol, label: `${mode}, ${protocol}` };
      rows.push(row);
      await startServer(protocol);
      try {
        row.idleRss = serverRss();
        for (const n of COUNTS) {
          progress(`${engine} ${row.label}: ${n} tab${n > 1 ? "s" : ""}`);
          row[`tabs${n}`] = await connections(mode, n);
          const c = row[`tabs${n}`];
          const h = Object.entries(c.byVersion).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ");
          progress(`  ${c.open} streams (${h || "none"}), ${c.tcp} TCP, ${c.live}/${n} live, ${c.hydrated} loaded, RSS ${mb(c.rss)}`);
        }
        if (mode === "hidden-close" && engine === "firefox") {
          // Firefox hides every tab but the newest, so only that one holds a stream: there is no
          // "every tab visible" run to time there.
          progress(`${engine} ${row.label}: no failover, relay or memory run (Firefox hides all tabs but one)`);
          continue;
        }
        for (const fault of ["close", "crash"]) {
          progress(`${engine} ${row.label}: ${TRIALS} × ${fault}`);
          const times = [];
          for (let i = 0; i < TRIALS; i++) {
            try {
              times.push(await failover(mode, fault));
            } catch (err) {
              progress(`  ${engine}: ${row.label}/${fault} trial ${i}: ${err.message}`);
            }
          }
          row[fault] = times;
        }
        progress(`${engine} ${row.label}: relay and memory`);
        Object.assign(row, await relayAndMemory(mode));
      } catch (err) {
        // One broken (mode, protocol) must not cost the others: its cells stay empty.
        progress(`  ${engine}: ${row.label} failed: ${err.stack ?? err.message}`);
      } finally {
        await stopServer();
      }
    }
  }
  await browser.close();

  const cdp = engine === "chromium";
  console.log(
    `\nmodes benchmark, ${browser.label}: started ${started}, ${((Date.now() - T0) / 60000).toFixed(1)} min; ` +
      `load average ${loadBefore} before, ${load()} after; failover ${TRIALS} trials × ${TABS} tabs; relay 200 events × ${TABS} tabs`,
  );
  console.log("\nConnections: server streams / TCP connections from the browser / tabs live, of N tabs in one browser\n");
  const counts = COUNTS.filter((n) => rows.some((r) => r[`tabs${n}`]));
  const conn = (r, n, f) => (r[`tabs${n}`] ? f(r[`tabs${n}`]) : "n/a");
  printTable([
    ["mode, protocol", ...counts.map((n) => `${n} tab${n > 1 ? "s" : ""}`)],
    ...rows.map((r) => [r.label, ...counts.map((n) => conn(r, n, (c) => `${c.open} / ${c.tcp} / ${c.live}`))]),
  ]);
  console.log("\nServer RSS (a fresh server per mode and protocol; idle, then with N tabs, in that order)\n");
  printTable([
    ["mode, protocol", "idle", ...counts.map((n) => `${n} tab${n > 1 ? "s" : ""}`)],
    ...rows.map((r) => [r.label, mb(r.idleRss), ...counts.map((n) => conn(r, n, (c) => mb(c.rss)))]),
  ]);
  console.log(`\nFailover, relay and memory (${TABS} tabs, all visible)\n`);
  printTable([
    [
      "mode, protocol", "interruption on close p50 / p95", "interruption on crash p50 / p95", "relay latency p50 / p99",
      ...(cdp ? ["idle CPU per tab", "JS heap per tab"] : []), "wasm memory per tab", ...(cdp ? ["worker JS heap"] : []),
    ],
    ...rows.map((r) => [
      r.label,
      cell(r.close ?? []),
      cell(r.crash ?? []),
      !r.relay ? "n/a" : r.relay.length ? `${ms(quantile(r.relay, 0.5))} / ${ms(quantile(r.relay, 0.99))}` : "none (direct)",
      ...(cdp ? [Number.isFinite(r.idle) ? `${(r.idle * 100).toFixed(1)} %` : "n/a", mb(r.heap)] : []),
      mb(r.wasm),
      ...(cdp ? [r.mode === "sharedworker" ? mb(r.worker) : "–"] : []),
    ]),
  ]);
}
process.exit(0);
