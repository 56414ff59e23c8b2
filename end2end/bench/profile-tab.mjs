#!/usr/bin/env node
/**
 * Where a follower tab's main-thread time goes per event (CDP sampling profiler), for finding the
 * next lever of issue #19; prints self time by function, top 25. Not a benchmark figure.
 * `--leader` profiles the leader instead of a follower.
 *   node end2end/bench/profile-tab.mjs --base=URL [--tabs=8] [--ui=on|off] [--hidden] [--leader] [--events=300] [--rate=100]
 */
import { args, profiledTabs, publishPaced, sleep } from "./lib.mjs";

const TABS = Number(args.tabs ?? 8);
const EVENTS = Number(args.events ?? 300);
const RATE = Number(args.rate ?? 100);
const path = args.ui === "off" ? "/?ui=off" : "/";

const { browser, context, pages, leader } = await profiledTabs({ tabs: TABS, path, hidden: args.hidden });
const follower = args.leader ? leader : pages.find((p) => p !== leader);
const cdp = await context.newCDPSession(follower);
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
await cdp.send("Profiler.start");
await publishPaced(EVENTS, RATE, "prof");
await sleep(1500);
const { profile } = await cdp.send("Profiler.stop");
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const name = `${node.callFrame.functionName || "(anon)"} ${node.callFrame.url.split("/").pop()}`;
  self.set(name, (self.get(name) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.entries()].filter(([k]) => !k.startsWith("(idle)") && !k.startsWith("(program)")).reduce((a, [, v]) => a + v, 0);
console.log(`busy (sampled, excl. idle/program): ${(total / 1000).toFixed(1)} ms over ${EVENTS} events = ${(total / 1000 / EVENTS).toFixed(3)} ms/event`);
for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${(us / 1000).toFixed(1).padStart(8)} ms  ${name}`);
}
// Inclusive time: each sample counts once for every distinct function on its stack.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const names = new Set();
  for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
    const f = byId.get(id).callFrame;
    if (f.functionName && !f.functionName.startsWith("(")) names.add(f.functionName.replace(/::h[0-9a-f]{16}$/, ""));
  }
  for (const name of names) inclusive.set(name, (inclusive.get(name) ?? 0) + (dt[i] ?? 0));
}
console.log("\ninclusive (a function and what it calls), top 40:");
for (const [name, us] of [...inclusive.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top ?? 40))) {
  console.log(`${(us / 1000).toFixed(1).padStart(8)} ms  ${name.slice(0, 150)}`);
}
await browser.close();
process.exit(0);
