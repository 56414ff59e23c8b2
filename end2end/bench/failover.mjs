#!/usr/bin/env node
/**
 * Failover and relay benchmark, in Debian's Chromium and/or Firefox ESR (run by
 * scripts/bench-failover, which builds and starts a release server). Not part of the test suite:
 * it prints figures.
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
 *
 * `--browser=firefox` (or `chromium,firefox`, one table per engine): in Firefox the leader is a
 * hidden tab (only the newest tab is visible), a crash is about:crashcontent (it may take other
 * tabs of the same content process with it: only the tabs that still answer count), and there is
 * no freeze fault (no CDP to pause a page's JavaScript; Firefox has no page freezing either).
 */
import {
  args, BASE, api, ENGINES, launchBrowser, crash, answering, tabIdsOf, until, oneLeader, inject, openTabs, quiet, stats,
  receivedAt, latencies, quantile, ms,
} from "./lib.mjs";

const TRIALS = Number(args.trials ?? 20);
const TABS = Number(args.tabs ?? 8);
const MECHANISMS = (args.mechanisms ?? "locks,protocol").split(",");
const FAULTS = (args.faults ?? "close,crash,freeze").split(",");

let browser;
/** Tabs each Firefox crash took with it besides the leader. */
let collateral = [];

async function trial(mechanism, fault) {
  await quiet();
  const context = await browser.newContext();
  try {
    const pages = await openTabs(context, TABS, `/?election=${mechanism}`);
    const tabIds = await tabIdsOf(pages);
    const { page: leader } = await oneLeader(pages);
    await until("one connection", async () => (await stats()).open_connections === 1);
    let survivors = pages.filter((p) => p !== leader);

    let frozen = null;
    const faultAt = Date.now();
    if (fault === "close") {
      await leader.close({ runBeforeUnload: false });
    } else if (fault === "crash") {
      await crash(browser.engine, context, leader);
    } else {
      // Pause its JavaScript: Chromium ignores Page.setWebLifecycleState on visible pages (see
      // end2end/tests/support.ts, freezePage).
      frozen = await context.newCDPSession(leader);
      await frozen.send("Debugger.enable");
      await frozen.send("Debugger.pause");
    }
    if (fault === "crash" && browser.engine === "firefox") {
      // about:crashcontent takes a few ms to kill the process: publish only once the leader is
      // gone, or the dying leader may still relay the "gap" event itself.
      const before = survivors.length;
      survivors = await answering(leader, survivors, tabIds);
      collateral.push(before - survivors.length);
      if (!survivors.length) throw new Error("the crash took every tab");
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


for (const engine of ENGINES) {
  browser = await launchBrowser(engine);
  // Firefox: no freeze fault (nothing pauses a page's JavaScript over BiDi).
  const faults = FAULTS.filter((f) => engine === "chromium" || f !== "freeze");
  if (engine === "chromium") {
    console.log(`failover benchmark: ${TABS} tabs, ${TRIALS} trials per cell, ${BASE}`);
  } else {
    console.log(`\nfailover benchmark, ${browser.label}: ${TABS} tabs (${TABS - 1} hidden), ${TRIALS} trials per cell, ${BASE}`);
  }
  console.log("mechanism | fault  | to one leader p50 / p95 | to stream + gap p50 / p95 | failed");
  console.log("----------|--------|-------------------------|---------------------------|-------");
  for (const mechanism of MECHANISMS) {
    for (const fault of faults) {
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
          console.error(`  ${engine}: ${mechanism}/${fault} trial ${i}: ${err.message}`);
        }
      }
      console.log(
        `${mechanism.padEnd(9)} | ${fault.padEnd(6)} | ${ms(quantile(leader, 0.5)).padStart(10)} / ${ms(quantile(leader, 0.95)).padEnd(10)} | ` +
          `${ms(quantile(stream, 0.5)).padStart(11)} / ${ms(quantile(stream, 0.95)).padEnd(11)} | ${failed}`,
      );
    }
  }
  if (collateral.length) {
    const mean = collateral.reduce((a, b) => a + b, 0) / collateral.length;
    console.log(`(a Firefox crash took ${mean.toFixed(1)} other tabs with it on average, at most ${Math.max(...collateral)})`);
    collateral = [];
  }
  console.log(`\nrelay latency leader → follower (200 events, ${TABS - 1} followers)`);
  for (const mechanism of MECHANISMS) {
    const relay = await relayLatencies(mechanism);
    console.log(
      `${mechanism.padEnd(9)} | p50 ${ms(quantile(relay, 0.5))} | p99 ${ms(quantile(relay, 0.99))} | n=${relay.length}`,
    );
  }
  await browser.close();
}
await api.dispose();
