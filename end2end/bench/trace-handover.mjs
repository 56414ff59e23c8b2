#!/usr/bin/env node
/**
 * What every tab's renderer main thread does right after a Web Locks leader closes, by the
 * browser's own trace events (CDP `Tracing`): self time per trace event name, summed over the
 * followers that do not take over, in the `--window` ms (default 50) after the closing tab's
 * `pagehide`, next to the same window just before it. For finding what competes with the
 * successor's lock grant for the machine's cores (#15). Not a benchmark figure (tracing costs time).
 *   node end2end/bench/trace-handover.mjs --base=URL [--tabs=12] [--closes=5] [--window=50] [--ui=off]
 */
import { args, launchChromium, openTabs, oneLeader, quiet, sleep } from "./lib.mjs";

const TABS = Number(args.tabs ?? 12);
const CLOSES = Number(args.closes ?? 5);
const WINDOW = Number(args.window ?? 50) * 1000;
const path = `/?election=locks${args.ui === "off" ? "&ui=off" : ""}`;

const browser = await launchChromium();
const cdp = await browser.newBrowserCDPSession();
const selfAfter = new Map();
const selfBefore = new Map();
const selfToGrant = new Map();
const busy = { after: [], before: [], successor: [] };
for (let c = 0; c < CLOSES; c++) {
  await quiet();
  const context = await browser.newContext();
  // The lock grant, as a mark in the trace (`TimeStamp`).
  await context.addInitScript(() => {
    const request = LockManager.prototype.request;
    LockManager.prototype.request = function (name, ...rest) {
      const callback = rest.pop();
      return request.call(this, name, rest[0] ?? {}, (lock) => {
        if (lock) console.timeStamp("tabrelay-granted");
        return callback(lock);
      });
    };
  });
  const pages = await openTabs(context, TABS, path);
  const { page: leader } = await oneLeader(pages);
  await sleep(1000);
  const events = [];
  const onData = ({ value }) => events.push(...value);
  cdp.on("Tracing.dataCollected", onData);
  const done = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
  await cdp.send("Tracing.start", {
    traceConfig: {
      recordMode: "recordAsMuchAsPossible",
      includedCategories: ["toplevel", "devtools.timeline", "v8", "blink", "disabled-by-default-devtools.timeline"],
    },
  });
  await sleep(300);
  await leader.close({ runBeforeUnload: false });
  const { page: next } = await oneLeader(pages.filter((p) => p !== leader));
  await sleep(300);
  await cdp.send("Tracing.end");
  await done;
  cdp.off("Tracing.dataCollected", onData);
  const nextId = await next.evaluate(() => document.body.dataset.tabId);
  await context.close();

  const names = new Map(
    events.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) => [`${e.pid}:${e.tid}`, e.args?.name]),
  );
  const hide = events.find((e) => e.name === "EventDispatch" && e.args?.data?.type === "pagehide");
  if (!hide) {
    console.log("no pagehide in the trace");
    continue;
  }
  const closing = `${hide.pid}:${hide.tid}`;
  // The successor: the renderer whose main thread ran the lock grant's callback first... found
  // as the one that set `leaderSince` is not visible in the trace; use the tab id it logs below.
  const byThread = new Map();
  for (const e of events) {
    const key = `${e.pid}:${e.tid}`;
    if (names.get(key) !== "CrRendererMain" || key === closing || e.ph !== "X" || typeof e.dur !== "number") continue;
    if (!byThread.has(key)) byThread.set(key, []);
    byThread.get(key).push(e);
  }
  const grant = events.find(
    (e) => e.name === "TimeStamp" && e.args?.data?.message === "tabrelay-granted" && e.ts > hide.ts,
  );
  const successor = grant ? `${grant.pid}:${grant.tid}` : null;
  const grantAt = grant ? grant.ts : hide.ts + WINDOW;
  const tally = (from, to, into) => {
    let total = 0;
    for (const [key, list] of byThread) {
      if (key === successor) continue;
      list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
      const stack = [];
      for (const e of list) {
        if (e.ts < from || e.ts >= to) continue;
        while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
        const parent = stack.at(-1);
        if (parent) into.set(parent.name, (into.get(parent.name) ?? 0) - Math.min(e.dur, parent.ts + parent.dur - e.ts));
        else total += e.dur;
        into.set(e.name, (into.get(e.name) ?? 0) + e.dur);
        stack.push(e);
      }
    }
    return total / 1000;
  };
  busy.after.push(tally(hide.ts, hide.ts + WINDOW, selfAfter));
  busy.before.push(tally(hide.ts - WINDOW - 100_000, hide.ts - 100_000, selfBefore));
  const toGrant = tally(hide.ts, grantAt, selfToGrant);
  console.log(
    `close ${c}: ${byThread.size - (successor ? 1 : 0)} other renderers' main threads busy ${busy.after.at(-1).toFixed(1)} ms in the ${WINDOW / 1000} ms after pagehide ` +
      `(${busy.before.at(-1).toFixed(1)} ms in ${WINDOW / 1000} ms before); pagehide → grant ${((grantAt - hide.ts) / 1000).toFixed(1)} ms, ` +
      `their busy time in it ${toGrant.toFixed(1)} ms; successor ${nextId}${successor ? "" : " (grant not found)"}`,
  );
}
await browser.close();
const top = (m) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([name, us]) => `${(us / 1000 / CLOSES).toFixed(2).padStart(8)} ms  ${name}`)
    .join("\n");
console.log(`\nself time per close, other followers summed, ${WINDOW / 1000} ms after pagehide:\n${top(selfAfter)}`);
console.log(`\nself time per close, other followers summed, pagehide → grant:\n${top(selfToGrant)}`);
console.log(`\nthe same ${WINDOW / 1000} ms window 100 ms before pagehide:\n${top(selfBefore)}`);
process.exit(0);
