#!/usr/bin/env node
/**
 * Failover and relay benchmark, in Debian's Chromium (run by scripts/bench-failover, which builds
 * and starts a release server). Not part of the test suite: it prints figures.
 *
 * Per election mechanism and fault (close, crash, freeze = the leader's JavaScript paused, so it
 * keeps its lock but runs nothing), over N trials with 8 tabs:
 *   - to one leader: fault → the new leader's own `data-leader-since` timestamp;
 *   - to stream + gap: fault → the new leader receives an event published right after the fault
 *     (so it can only arrive through the new leader's stream, replayed from the gap).
 * And relay latency leader → follower (each follower's `data-latency`, measured by the core from
 * the leader's send timestamp on the clock all tabs share).
 *
 * Times come from the browser (performance.timeOrigin + now(), the clock all tabs share) and the
 * fault time from Node's Date.now() just before the fault: both are the machine's wall clock.
 */
import { chromium, request as http } from "@playwright/test";

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")).map(([k, v]) => [k, v ?? "true"]),
);
const BASE = args.base ?? "http://127.0.0.1:3000";
const TRIALS = Number(args.trials ?? 20);
const TABS = Number(args.tabs ?? 8);
const MECHANISMS = (args.mechanisms ?? "locks,protocol").split(",");
const FAULTS = (args.faults ?? "close,crash,freeze").split(",");
const POLL_MS = 2;

const api = await http.newContext({ baseURL: BASE });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

async function until(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const dataset = (page) => page.evaluate(() => ({ ...document.body.dataset }));
const openConnections = async () => (await (await api.get("/api/stats")).json()).open_connections;

async function oneLeader(pages) {
  return until("one leader", async () => {
    const states = await Promise.all(pages.map(dataset));
    const leaders = states.filter((s) => s.role === "leader");
    if (leaders.length !== 1 || !states.every((s) => s.leaderId === leaders[0].tabId)) return null;
    return { page: pages[states.indexOf(leaders[0])], state: leaders[0] };
  });
}

async function inject(device) {
  const response = await api.post(`/api/devices/${device}/online`);
  if (!response.ok()) throw new Error(`inject failed: ${response.status()} ${await response.text()}`);
  return (await response.json()).id;
}

async function openTabs(context, mechanism) {
  const pages = [];
  for (let i = 0; i < TABS; i++) {
    const page = await context.newPage();
    await page.goto(`${BASE}/?election=${mechanism}`);
    pages.push(page);
  }
  for (const page of pages) await until("hydration", async () => (await dataset(page)).tabId);
  return pages;
}

async function trial(mechanism, fault) {
  await until("a quiet server", async () => (await openConnections()) === 0);
  const context = await browser.newContext();
  try {
    const pages = await openTabs(context, mechanism);
    const { page: leader } = await oneLeader(pages);
    await until("one connection", async () => (await openConnections()) === 1);
    const survivors = pages.filter((p) => p !== leader);

    let frozen = null;
    const faultAt = Date.now();
    if (fault === "close") {
      await leader.close({ runBeforeUnload: false });
    } else if (fault === "crash") {
      const cdp = await context.newCDPSession(leader);
      cdp.send("Page.crash").catch(() => {});
    } else {
      // Pause its JavaScript: Chromium ignores Page.setWebLifecycleState on visible pages (see
      // end2end/tests/support.ts, freezePage).
      frozen = await context.newCDPSession(leader);
      await frozen.send("Debugger.enable");
      await frozen.send("Debugger.pause");
    }
    const gapEvent = await inject(`bench-${mechanism}-${fault}`);

    const { page: next, state } = await oneLeader(survivors);
    const toLeader = Number(state.leaderSince) - faultAt;
    const receivedAt = await until("the gap event at the new leader", () =>
      next.evaluate(
        (id) => document.querySelector(`[data-event-id="${id}"]`)?.getAttribute("data-received-at"),
        gapEvent,
      ),
    );
    const toStream = Number(receivedAt) - faultAt;
    if (frozen) await frozen.send("Debugger.resume");
    return { toLeader, toStream };
  } finally {
    await context.close();
  }
}

async function relayLatencies(mechanism) {
  await until("a quiet server", async () => (await openConnections()) === 0);
  const context = await browser.newContext();
  try {
    const pages = await openTabs(context, mechanism);
    const { page: leader } = await oneLeader(pages);
    const ids = [];
    for (let i = 0; i < 200; i++) {
      ids.push(await inject(`relay-${mechanism}`));
      await new Promise((r) => setTimeout(r, 10));
    }
    const last = ids[ids.length - 1];
    const followers = pages.filter((p) => p !== leader);
    const latencies = [];
    for (const page of followers) {
      await until("the last relayed event", () =>
        page.evaluate((id) => !!document.querySelector(`[data-event-id="${id}"]`), last),
      );
      latencies.push(
        ...(await page.evaluate(
          (wanted) =>
            Array.from(document.querySelectorAll("[data-event-id]"))
              .filter((el) => wanted.includes(Number(el.getAttribute("data-event-id"))))
              .map((el) => Number(el.getAttribute("data-latency"))),
          ids,
        )),
      );
    }
    return latencies.filter((x) => Number.isFinite(x));
  } finally {
    await context.close();
  }
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : "n/a");

console.log(`failover benchmark: ${TABS} tabs, ${TRIALS} trials per cell, ${BASE}`);
console.log("mechanism | fault  | to one leader p50 / p95 | to stream + gap p50 / p95 | failed");
console.log("----------|--------|-------------------------|---------------------------|-------");
for (const mechanism of MECHANISMS) {
  for (const fault of FAULTS) {
    const leader = [];
    const stream = [];
    let failed = 0;
    for (let i = 0; i < TRIALS; i++) {
      try {
        const r = await trial(mechanism, fault);
        leader.push(r.toLeader);
        stream.push(r.toStream);
      } catch (err) {
        failed++;
        console.error(`  ${mechanism}/${fault} trial ${i}: ${err.message}`);
      }
    }
    console.log(
      `${mechanism.padEnd(9)} | ${fault.padEnd(6)} | ${ms(quantile(leader, 0.5)).padStart(10)} / ${ms(quantile(leader, 0.95)).padEnd(10)} | ` +
        `${ms(quantile(stream, 0.5)).padStart(11)} / ${ms(quantile(stream, 0.95)).padEnd(11)} | ${failed}`,
    );
  }
}
console.log("\nrelay latency leader → follower (200 events, 7 followers)");
for (const mechanism of MECHANISMS) {
  const latencies = await relayLatencies(mechanism);
  console.log(
    `${mechanism.padEnd(9)} | p50 ${ms(quantile(latencies, 0.5))} | p99 ${ms(quantile(latencies, 0.99))} | n=${latencies.length}`,
  );
}
await browser.close();
await api.dispose();
