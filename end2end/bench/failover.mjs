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
import {
  args, BASE, api, launchChromium, until, oneLeader, inject, openTabs, quiet, stats, receivedAt, latencies, quantile, ms,
} from "./lib.mjs";

const TRIALS = Number(args.trials ?? 20);
const TABS = Number(args.tabs ?? 8);
const MECHANISMS = (args.mechanisms ?? "locks,protocol").split(",");
const FAULTS = (args.faults ?? "close,crash,freeze").split(",");

const browser = await launchChromium();

async function trial(mechanism, fault) {
  await quiet();
  const context = await browser.newContext();
  try {
    const pages = await openTabs(context, TABS, `/?election=${mechanism}`);
    const { page: leader } = await oneLeader(pages);
    await until("one connection", async () => (await stats()).open_connections === 1);
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
    const toStream = (await receivedAt(next, gapEvent)) - faultAt;
    if (frozen) await frozen.send("Debugger.resume");
    return { toLeader, toStream };
  } finally {
    await context.close();
  }
}

async function relayLatencies(mechanism) {
  await quiet();
  const context = await browser.newContext();
  try {
    const pages = await openTabs(context, TABS, `/?election=${mechanism}`);
    const { page: leader } = await oneLeader(pages);
    const ids = [];
    for (let i = 0; i < 200; i++) {
      ids.push(await inject(`relay-${mechanism}`));
      await new Promise((r) => setTimeout(r, 10));
    }
    const last = ids[ids.length - 1];
    const followers = pages.filter((p) => p !== leader);
    const all = [];
    for (const page of followers) {
      await receivedAt(page, last);
      all.push(...(await latencies(page, ids)));
    }
    return all;
  } finally {
    await context.close();
  }
}


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
  const relay = await relayLatencies(mechanism);
  console.log(
    `${mechanism.padEnd(9)} | p50 ${ms(quantile(relay, 0.5))} | p99 ${ms(quantile(relay, 0.99))} | n=${relay.length}`,
  );
}
await browser.close();
await api.dispose();
