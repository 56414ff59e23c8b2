#!/usr/bin/env node
/**
 * Where each tab's main-thread time goes per event, by the browser's own trace events (CDP
 * `Tracing`): what the sampling profiler of `profile-tab.mjs` cannot see, such as HTML parsing,
 * garbage collection, style, layout, paint and the task overhead that `client.mjs` reports as
 * "other". Self time per trace event name, per renderer main thread, top 15. Not a benchmark
 * figure (tracing costs time itself); for finding the next lever of issue #19.
 *   node end2end/bench/trace-tab.mjs --base=URL [--tabs=3] [--ui=on|off] [--hidden] [--events=300] [--rate=100]
 */
import { args, profiledTabs, publishPaced, sleep } from "./lib.mjs";

const TABS = Number(args.tabs ?? 3);
const EVENTS = Number(args.events ?? 300);
const RATE = Number(args.rate ?? 100);
const path = args.ui === "off" ? "/?ui=off" : "/";

const { browser, pages } = await profiledTabs({ tabs: TABS, path, hidden: args.hidden });
const tabIds = await Promise.all(pages.map((p) => p.evaluate(() => document.body.dataset.tabId)));

const cdp = await browser.newBrowserCDPSession();
const events = [];
cdp.on("Tracing.dataCollected", ({ value }) => events.push(...value));
const done = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
await cdp.send("Tracing.start", {
  traceConfig: {
    recordMode: "recordAsMuchAsPossible",
    includedCategories: ["toplevel", "devtools.timeline", "v8", "v8.execute", "blink", "disabled-by-default-devtools.timeline"],
  },
});
await publishPaced(EVENTS, RATE, "trace");
await sleep(1500);
await cdp.send("Tracing.end");
await done;
const roles = await Promise.all(pages.map((p) => p.evaluate(() => document.body.dataset.role)));
await browser.close();

// Renderer main threads, and which tab each one runs (by the pid its page reported).
const mains = new Set(
  events.filter((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`),
);
const byThread = new Map();
for (const e of events) {
  const key = `${e.pid}:${e.tid}`;
  if (!mains.has(key) || e.ph !== "X" || typeof e.dur !== "number") continue;
  if (!byThread.has(key)) byThread.set(key, []);
  byThread.get(key).push(e);
}
console.log(`${TABS} tabs (${roles.join(", ")}; ids ${tabIds.join(", ")}), ${EVENTS} events at ${RATE}/s, ui ${args.ui ?? "on"}, ${args.hidden ? "hidden" : "visible"}`);
for (const [thread, list] of byThread) {
  // Self time: each event's duration minus that of the events nested directly in it.
  list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const self = new Map();
  const stack = [];
  let busy = 0;
  for (const e of list) {
    while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
    const parent = stack.at(-1);
    if (parent) self.set(parent.name, (self.get(parent.name) ?? 0) - Math.min(e.dur, parent.ts + parent.dur - e.ts));
    else busy += e.dur;
    self.set(e.name, (self.get(e.name) ?? 0) + e.dur);
    stack.push(e);
  }
  if (busy / 1000 / EVENTS < 0.01) continue;
  console.log(`\nrenderer main ${thread}: ${(busy / 1000).toFixed(1)} ms busy = ${(busy / 1000 / EVENTS).toFixed(3)} ms/event; self time by trace event:`);
  for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`${(us / 1000 / EVENTS).toFixed(3).padStart(8)} ms/event  ${name}`);
  }
}
