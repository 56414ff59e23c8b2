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
import { readFileSync, readdirSync } from "node:fs";
import {
  args, BASE, api, useServer, ENGINES, launchBrowser, crash, answering, tabIdsOf, until, oneLeader, inject, openTabs, quiet, stats,
  receivedAt, latencies, quantile, ms,
} from "./lib.mjs";

const TRIALS = Number(args.trials ?? 20);
const TABS = Number(args.tabs ?? 8);
const MECHANISMS = (args.mechanisms ?? "locks,protocol").split(",");
const FAULTS = (args.faults ?? "close,crash,freeze").split(",");
/** `--trace`: time every hop of a close failover (Chromium, close only) and print their spread. */
const TRACE = Boolean(args.trace);
/**
 * `--hold=MS` (or `--hold=0,150` to alternate per trial): how long after the fault the harness
 * waits before it polls the surviving tabs for the new leader. Polling reads every tab over CDP
 * every few ms, and each read is a task on that tab's main thread (and wakes its renderer), on the
 * machine's cores the handover needs; the times measured are the tabs' own timestamps, so when
 * they are read does not change them.
 */
const HOLDS = String(args.hold ?? "0").split(",").map(Number);
/**
 * `--defer-goodbye=MS` (or `0,60` to alternate per trial; an experiment, not a figure): every
 * tab's page hears a `resign` or `bye` on the channel MS later than the browser delivers it, as if
 * the tabs handled a leaving leader's goodbye later. Shows what the tabs' handling of it costs the
 * successor's grant (Web Locks: the successor needs no goodbye to lead).
 */
const DEFERS = String(args["defer-goodbye"] ?? "0").split(",").map(Number);
/**
 * `--bases=URL1,URL2` (instead of `--base`): alternate the trials between two servers (say a
 * build before and after a change), so that both meet the same machine state; one row each.
 */
const BASES = args.bases ? args.bases.split(",") : [BASE];
const DEFER_SCRIPT = (ms) => {
  const onmessage = Object.getOwnPropertyDescriptor(BroadcastChannel.prototype, "onmessage");
  Object.defineProperty(BroadcastChannel.prototype, "onmessage", {
    ...onmessage,
    set(handler) {
      const deferred =
        handler &&
        ((e) => {
          if (typeof e.data === "string" && /"(resign|bye)"/.test(e.data)) setTimeout(() => handler.call(this, e), ms);
          else handler.call(this, e);
        });
      onmessage.set.call(this, deferred);
    },
  });
};

/**
 * `--page=minimal`: the same trials on a page of a few lines instead of the app (locks, close):
 * it holds the lock, releases it on `pagehide`, then posts its goodbye from the next listener, and
 * takes no stream.
 * What the browser alone costs, under the same harness and the same load.
 */
const MINIMAL = args.page === "minimal";
/**
 * `--ui=off`: the app's page with `?ui=off` (the library, the election and the stream, no panels):
 * what the dashboard adds to a failover is the difference with the default page.
 */
const UI_OFF = args.ui === "off";
const appPath = (mechanism) => `/?election=${mechanism}${UI_OFF ? "&ui=off" : ""}`;
const MINIMAL_PAGE = `<!doctype html><title>minimal</title><body><script>
const now = () => performance.timeOrigin + performance.now();
const id = Math.random().toString(36).slice(2);
const data = document.body.dataset;
data.tabId = id;
data.role = "follower";
let release = null;
const channel = new BroadcastChannel("bench-minimal");
channel.onmessage = (e) => {
  if (e.data === "hello" && release) channel.postMessage(id);
  else if (!e.data.startsWith('"')) data.leaderId = e.data;
};
channel.postMessage("hello");
navigator.locks.request("bench-minimal", () => {
  data.role = "leader";
  data.leaderId = id;
  data.leaderSince = String(now());
  channel.postMessage(id);
  return new Promise((resolve) => (release = resolve));
});
// Two listeners, as in the app: the lock goes back in the microtask checkpoint between them.
addEventListener("pagehide", () => release?.());
addEventListener("pagehide", () => {
  channel.postMessage('"resign"');
  channel.postMessage('"bye"');
});
</script>`;

/**
 * Installed before the page's scripts with `--trace`: timestamps (the shared clock, ms) of the
 * hops of a handover. The closing tab records its `pagehide` (the first listener), the release of
 * its held lock (a reaction on the promise that holds it, which runs just before the lock
 * manager's own) and its goodbye posts, and sends them on a side channel right after its `bye`.
 * Every tab records its lock requests and grants, and when the `resign` reached it.
 */
const TRACE_SCRIPT = () => {
  const now = () => performance.timeOrigin + performance.now();
  const trace = (window.__trace = { own: {}, remote: null });
  const side = new BroadcastChannel("bench-trace");
  side.onmessage = (e) => (trace.remote = e.data);
  addEventListener("pagehide", () => (trace.own.pagehide = now()), { capture: true });
  addEventListener("visibilitychange", () => (trace.own.hidden ??= now()), { capture: true });
  const post = BroadcastChannel.prototype.postMessage;
  BroadcastChannel.prototype.postMessage = function (data, ...rest) {
    const kind = typeof data === "string" && /"(resign|bye)"/.exec(data)?.[1];
    if (kind) trace.own[`${kind}Posted`] = now();
    const result = post.call(this, data, ...rest);
    if (kind === "bye" && trace.own.pagehide) post.call(side, { ...trace.own });
    return result;
  };
  const onmessage = Object.getOwnPropertyDescriptor(BroadcastChannel.prototype, "onmessage");
  Object.defineProperty(BroadcastChannel.prototype, "onmessage", {
    ...onmessage,
    set(handler) {
      const wrapped =
        handler &&
        ((e) => {
          const kind = typeof e.data === "string" && /"(resign|bye)"/.exec(e.data)?.[1];
          if (!kind || trace.own[`${kind}Heard`]) return handler.call(this, e);
          trace.own[`${kind}Heard`] = now();
          try {
            return handler.call(this, e);
          } finally {
            trace.own[`${kind}Handled`] = now();
            // The task's microtasks too (Leptos runs its effects there): the end of this task.
            setTimeout(() => (trace.own[`${kind}TaskDone`] ??= now()));
            queueMicrotask(() => queueMicrotask(() => (trace.own[`${kind}Micro`] = now())));
          }
        });
      onmessage.set.call(this, wrapped);
    },
  });
  const request = LockManager.prototype.request;
  LockManager.prototype.request = function (name, ...rest) {
    const callback = rest.pop();
    const options = rest[0] ?? {};
    trace.own.requested = now();
    return request.call(this, name, options, (lock) => {
      if (lock) trace.own.granted = now();
      const held = callback(lock);
      Promise.resolve(held).then(() => (trace.own.released = now()));
      return held;
    });
  };
};

/**
 * `--sched[=MS]` (Chromium on Linux, with `--trace`; a diagnostic, its busy loops and pauses
 * disturb the figures): maps each tab to its renderer by a short busy loop before the fault,
 * then reads every renderer's main thread from /proc (`schedstat`: ms on a CPU, ms runnable but
 * waiting for one) at the fault and MS (default 40) after it (as Node's timer fires), and the same
 * window just before the fault, and prints per trial the successor's and the other tabs' figures.
 */
const SCHED = Boolean(args.sched);
const SCHED_WINDOW = Number(args.sched === "true" || !args.sched ? 40 : args.sched);
const schedOf = (pid, tid = pid) => {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
    return { run: run / 1e6, wait: wait / 1e6 };
  } catch {
    return null;
  }
};
/** Chromium's processes (pid → type and main-thread schedstat). */
function chromiumThreads() {
  const procs = {};
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let cmd;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (!cmd.includes("chromium")) continue;
    const type = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? "browser";
    procs[pid] = { type, ...schedOf(pid) };
  }
  return procs;
}
async function mapRenderers(pages) {
  const map = new Map();
  for (const page of pages) {
    const before = chromiumThreads();
    await page.evaluate(() => {
      const end = performance.now() + 40;
      while (performance.now() < end);
    });
    const after = chromiumThreads();
    let best = null;
    for (const [pid, t] of Object.entries(after)) {
      if (t.type !== "renderer" || !before[pid]) continue;
      const d = t.run - before[pid].run;
      if (!best || d > best.d) best = { pid, d };
    }
    map.set(page, best?.pid);
  }
  return map;
}

let browser;
/** Tabs each Firefox crash took with it besides the leader. */
let collateral = [];

/** Per-hop times (ms) of each traced trial. */
const hops = {};
let hopPrefix = "";
function hop(name, ms) {
  if (Number.isFinite(ms)) (hops[hopPrefix + name] ??= []).push(ms);
}

async function trial(mechanism, fault, hold = 0, defer = 0) {
  await quiet();
  const context = await browser.newContext();
  if (defer) await context.addInitScript(DEFER_SCRIPT, defer);
  if (TRACE) await context.addInitScript(TRACE_SCRIPT);
  if (MINIMAL || UI_OFF) {
    await context.route(`${BASE}/bench-minimal`, (route) =>
      route.fulfill({ contentType: "text/html", body: MINIMAL_PAGE }),
    );
  }
  try {
    const pages = await openTabs(context, TABS, MINIMAL ? "/bench-minimal" : appPath(mechanism));
    const tabIds = await tabIdsOf(pages);
    const { page: leader } = await oneLeader(pages);
    if (!MINIMAL) await until("one connection", async () => (await stats()).open_connections === 1);
    let survivors = pages.filter((p) => p !== leader);

    let frozen = null;
    const pids = SCHED ? await mapRenderers(pages) : null;
    if (SCHED) await new Promise((r) => setTimeout(r, 1000));
    const schedBefore = SCHED ? chromiumThreads() : null;
    if (SCHED) await new Promise((r) => setTimeout(r, SCHED_WINDOW));
    const schedAtFault = SCHED ? chromiumThreads() : null;
    const faultAt = Date.now();
    const schedAfter = SCHED ? new Promise((r) => setTimeout(() => r(chromiumThreads()), SCHED_WINDOW)) : null;
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
    const gapEvent = MINIMAL ? null : await inject(`bench-${mechanism}-${fault}`);
    if (hold) await new Promise((r) => setTimeout(r, hold - (Date.now() - faultAt)));

    const { page: next, state } = await oneLeader(survivors);
    const toLeader = Number(state.leaderSince) - faultAt;
    // (No rows with `?ui=off`: no time to the stream either.)
    const toStream = MINIMAL || UI_OFF ? NaN : (await receivedAt(next, gapEvent)) - faultAt;
    if (TRACE && fault === "close") {
      hopPrefix = HOLDS.length > 1 ? `[${hold}] ` : "";
      const t = await next.evaluate(() => window.__trace);
      const old = t.remote ?? {};
      const since = Number(state.leaderSince);
      hop("fault → pagehide", old.pagehide - faultAt);
      hop("pagehide → released", old.released - old.pagehide);
      hop("released → resign posted", old.resignPosted - old.released);
      hop("released → granted", t.own.granted - old.released);
      hop("resign posted → heard", t.own.resignHeard - old.resignPosted);
      hop("heard − granted", t.own.resignHeard - t.own.granted);
      hop("granted → leaderSince", since - t.own.granted);
      const first = t.own.resignHeard < t.own.granted || t.own.byeHeard < t.own.granted;
      if (first) {
        hop("  (then) released → granted", t.own.granted - old.released);
        hop("  (then) resign handler", t.own.resignHandled - t.own.resignHeard);
        hop("  (then) bye handler", t.own.byeHandled - t.own.byeHeard);
      } else {
        hop("  (else) released → granted", t.own.granted - old.released);
      }
      hop("request queued before fault", faultAt - t.own.requested);
      hop("total", since - faultAt);
      if (!t.remote) hop("no trace from the closing tab", 1);
      if (args.verbose) console.log(JSON.stringify({ hold, faultAt, old, own: t.own, since }));
      if (SCHED) {
        const after = await schedAfter;
        const d = (pid, [a, b] = [schedAtFault[pid], after[pid]]) => {
          return a && b ? { run: b.run - a.run, wait: b.wait - a.wait } : null;
        };
        const me = d(pids.get(next));
        const others = survivors.filter((p) => p !== next).map((p) => d(pids.get(p))).filter(Boolean);
        const sum = (xs, k) => xs.reduce((acc, x) => acc + x[k], 0);
        const idle = survivors.filter((p) => p !== next).map((p) => d(0, [schedBefore[pids.get(p)], schedAtFault[pids.get(p)]])).filter(Boolean);
        const gpu = Object.entries(schedAtFault).filter(([, t]) => t.type === "gpu-process").map(([pid]) => d(pid)).filter(Boolean);
        const f = (x) => x.toFixed(1).padStart(5);
        console.log(
          `sched ${SCHED_WINDOW} ms | total ${f(since - faultAt)} granted ${f(t.own.granted - faultAt)} | successor run ${f(me.run)} wait ${f(me.wait)} | ` +
            `others run ${f(sum(others, "run"))} wait ${f(sum(others, "wait"))} (before the fault: ${f(sum(idle, "run"))} / ${f(sum(idle, "wait"))}) | gpu run ${f(sum(gpu, "run"))}`,
        );
        hop("sched: successor wait", me.wait);
        hop("sched: successor run", me.run);
        hop("sched: others run", sum(others, "run"));
        hop("sched: others run, before", sum(idle, "run"));
      }
    }
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
    const pages = await openTabs(context, TABS, appPath(mechanism));
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
    console.log(`failover benchmark: ${TABS} tabs, ${TRIALS} trials per cell, ${BASES.join(" and ")}${MINIMAL ? ", the minimal page" : UI_OFF ? ", ?ui=off" : ""}`);
  } else {
    console.log(`\nfailover benchmark, ${browser.label}: ${TABS} tabs (${TABS - 1} hidden), ${TRIALS} trials per cell, ${BASE}`);
  }
  console.log("mechanism | fault  | to one leader p50 / p95 | to stream + gap p50 / p95 | failed");
  console.log("----------|--------|-------------------------|---------------------------|-------");
  for (const mechanism of MECHANISMS) {
    for (const fault of faults) {
      const VARIANTS = BASES.flatMap((base) => HOLDS.flatMap((hold) => DEFERS.map((defer) => ({ base, hold, defer }))));
      const leader = VARIANTS.map(() => []);
      const stream = VARIANTS.map(() => []);
      const failed = VARIANTS.map(() => 0);
      for (let i = 0; i < TRIALS; i++) {
        const h = i % VARIANTS.length;
        if (VARIANTS[h].base !== BASE) await useServer(VARIANTS[h].base);
        try {
          const r = await trial(mechanism, fault, VARIANTS[h].hold, VARIANTS[h].defer);
          leader[h].push(r.toLeader);
          stream[h].push(r.toStream);
        } catch (err) {
          failed[h]++;
          console.error(`  ${engine}: ${mechanism}/${fault} trial ${i}: ${err.message}`);
        }
      }
      VARIANTS.forEach(({ base, hold, defer }, h) => {
        const label = fault + (BASES.length > 1 ? ` ${base}` : "") + (HOLDS.length > 1 || hold ? ` (hold ${hold} ms)` : "") + (DEFERS.length > 1 || defer ? ` (goodbye +${defer} ms)` : "");
        console.log(
          `${mechanism.padEnd(9)} | ${label.padEnd(6)} | ${ms(quantile(leader[h], 0.5)).padStart(10)} / ${ms(quantile(leader[h], 0.95)).padEnd(10)} | ` +
            `${ms(quantile(stream[h], 0.5)).padStart(11)} / ${ms(quantile(stream[h], 0.95)).padEnd(11)} | ${failed[h]}`,
        );
      });
      if (VARIANTS.length > 1 || args.spread) {
        console.log("spread to one leader: p75 / p90 / p95 / max, mean, n");
        VARIANTS.forEach((_, h) => {
          const xs = leader[h];
          const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
          console.log(`  ${String(h).padEnd(2)} ${[0.75, 0.9, 0.95].map((q) => ms(quantile(xs, q))).join(" / ")} / ${ms(Math.max(...xs))}, ${ms(mean)}, ${xs.length}`);
        });
      }
    }
  }
  if (TRACE) {
    console.log("\nhop (close, traced)           | p50      | p90      | p95      | max      | n");
    for (const [name, values] of Object.entries(hops)) {
      const q = (x) => ms(quantile(values, x)).padStart(8);
      console.log(`${name.padEnd(29)} | ${q(0.5)} | ${q(0.9)} | ${q(0.95)} | ${ms(Math.max(...values)).padStart(8)} | ${values.length}`);
    }
  }
  if (collateral.length) {
    const mean = collateral.reduce((a, b) => a + b, 0) / collateral.length;
    console.log(`(a Firefox crash took ${mean.toFixed(1)} other tabs with it on average, at most ${Math.max(...collateral)})`);
    collateral = [];
  }
  if (MINIMAL || UI_OFF) {
    await browser.close();
    continue;
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
