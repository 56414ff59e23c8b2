#!/usr/bin/env node
/**
 * Counts what a follower tab calls per event, to see where the library's own cost goes (issue
 * #19): `Worker.postMessage` (the hidden page's timer worker), `BroadcastChannel.postMessage`,
 * `setTimeout`, `performance.now` and the worker's messages back. Not a benchmark figure.
 *   node end2end/bench/count-calls.mjs --base=URL [--tabs=8] [--ui=on|off] [--hidden] [--events=300] [--rate=100]
 */
import { args, profiledTabs, publishPaced, sleep } from "./lib.mjs";

const TABS = Number(args.tabs ?? 8);
const EVENTS = Number(args.events ?? 300);
const RATE = Number(args.rate ?? 100);
const path = args.ui === "off" ? "/?ui=off" : "/";

const COUNT_SCRIPT = () => {
  const counts = (window.__counts = {});
  const wrap = (proto, name, label) => {
    const original = proto[name];
    proto[name] = function (...a) {
      if (window.__counting) counts[label] = (counts[label] ?? 0) + 1;
      return original.apply(this, a);
    };
  };
  wrap(Worker.prototype, "postMessage", "Worker.postMessage");
  wrap(BroadcastChannel.prototype, "postMessage", "BroadcastChannel.postMessage");
  wrap(window, "setTimeout", "setTimeout");
  wrap(window, "clearTimeout", "clearTimeout");
  wrap(window, "requestAnimationFrame", "requestAnimationFrame");
  wrap(Performance.prototype, "now", "performance.now");
  wrap(EventTarget.prototype, "addEventListener", "addEventListener");
  const onmessage = Object.getOwnPropertyDescriptor(Worker.prototype, "onmessage");
  Object.defineProperty(Worker.prototype, "onmessage", {
    set(f) {
      onmessage.set.call(this, (e) => {
        if (window.__counting) counts["worker message in"] = (counts["worker message in"] ?? 0) + 1;
        return f(e);
      });
    },
    get() {
      return onmessage.get.call(this);
    },
  });
};

const { browser, pages, leader } = await profiledTabs({ tabs: TABS, path, hidden: args.hidden, initScripts: [COUNT_SCRIPT] });
const follower = pages.find((p) => p !== leader);
await sleep(1500);
const measure = async (body) => {
  await Promise.all([leader, follower].map((p) => p.evaluate(() => { window.__counting = true; for (const k in window.__counts) delete window.__counts[k]; })));
  await body();
  return Promise.all([leader, follower].map((p) => p.evaluate(() => { window.__counting = false; return { ...window.__counts }; })));
};
const seconds = EVENTS / RATE + 1.5;
const [idleLeader, idleFollower] = await measure(() => sleep(seconds * 1000));
const [busyLeader, busyFollower] = await measure(async () => {
  await publishPaced(EVENTS, RATE, "count");
  await sleep(1500);
});
const names = [...new Set([...Object.keys(busyFollower), ...Object.keys(busyLeader), ...Object.keys(idleFollower)])].sort();
console.log(`${TABS} tabs, ${args.hidden ? "hidden" : "visible"}, ui=${args.ui ?? "on"}: calls per event (busy minus an idle window as long), ${EVENTS} events at ${RATE}/s`);
console.log("| call | follower | leader | follower idle, per second | leader idle, per second |\n|---|---|---|---|---|");
for (const name of names) {
  const per = (busy, idle) => (((busy[name] ?? 0) - (idle[name] ?? 0)) / EVENTS).toFixed(2);
  const idle = (counts) => ((counts[name] ?? 0) / seconds).toFixed(1);
  console.log(`| ${name} | ${per(busyFollower, idleFollower)} | ${per(busyLeader, idleLeader)} | ${idle(idleFollower)} | ${idle(idleLeader)} |`);
}
await browser.close();
process.exit(0);
