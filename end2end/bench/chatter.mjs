#!/usr/bin/env node
/**
 * Coordination chatter between tabs in Chromium: how many channel messages each tab posts and
 * receives per second, with N tabs of `?mode=leader` or `?mode=storage` in one browser, and how
 * many of the N tabs are live (receive an event published at the end). Against a running server
 * (`--base`, default http://127.0.0.1:3000); nothing is published during the sample, so every
 * message counted is coordination (heartbeats, presence, hellos, probes, claims ...).
 *
 *   node end2end/bench/chatter.mjs --base=http://127.0.0.1:3201 [--modes=leader,storage]
 *        [--counts=10,20,50] [--seconds=10] [--settle=5]
 *
 * An init script counts, in every page: `message` events of every BroadcastChannel and
 * `postMessage` calls on them (leader), or `storage` events carrying a new value and
 * `localStorage.setItem` calls (storage; the removal right after each write is not counted).
 * Tabs are opened back to back (each `goto` awaited, as a user opening tabs quickly), then the
 * counters are read twice, `--seconds` apart, after `--settle` seconds.
 */
import { args, launchChromium, useServer, inject, until, sleep, stats, quiet } from "./lib.mjs";

const BASE_URL = args.base ?? "http://127.0.0.1:3000";
const MODES = (args.modes ?? "leader,storage").split(",");
const COUNTS = (args.counts ?? "10,20,50").split(",").map(Number);
const SECONDS = Number(args.seconds ?? 10);
const SETTLE = Number(args.settle ?? 5);
await useServer(BASE_URL);

function countChatter() {
  const c = { in: 0, out: 0, kinds: {} };
  window.__chatter = c;
  const received = (text) => {
    c.in++;
    const kind = typeof text === "string" ? (/"type":"([a-z-]+)"/.exec(text)?.[1] ?? "other") : "other";
    c.kinds[kind] = (c.kinds[kind] ?? 0) + 1;
  };
  const Native = window.BroadcastChannel;
  window.BroadcastChannel = class extends Native {
    constructor(name) {
      super(name);
      this.addEventListener("message", (e) => received(e.data));
    }
    postMessage(m) {
      c.out++;
      return super.postMessage(m);
    }
  };
  window.addEventListener("storage", (e) => {
    if (e.newValue !== null) received(e.newValue);
  });
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (k, v) {
    c.out++;
    return setItem.call(this, k, v);
  };
}

/** `fn` in `page`, or undefined if the page does not answer within `timeoutMs`. */
const answer = (page, fn, arg, timeoutMs = 3000) =>
  Promise.race([page.evaluate(fn, arg).catch(() => undefined), sleep(timeoutMs).then(() => undefined)]);

const browser = await launchChromium();
const rows = [];
for (const mode of MODES) {
  for (const n of COUNTS) {
    await quiet();
    const context = await browser.newContext();
    await context.addInitScript(countChatter);
    const t0 = Date.now();
    const pages = [];
    for (let i = 0; i < n; i++) {
      const page = await context.newPage();
      await page.goto(`${BASE_URL}/?mode=${mode}`, { timeout: 60_000 }).catch(() => {});
      pages.push(page);
    }
    const opened = (Date.now() - t0) / 1000;
    const snapshot = () =>
      Promise.all(pages.map((p) => answer(p, () => ({ ...window.__chatter, kinds: { ...window.__chatter.kinds } }))));
    // The burst: messages counted from the first open until every tab is open.
    const burst = await snapshot();
    await sleep(SETTLE * 1000);
    const a = await snapshot();
    const ta = Date.now();
    await sleep(SECONDS * 1000);
    const b = await snapshot();
    const secs = (Date.now() - ta) / 1000;
    const per = (f) => {
      const v = pages.map((_, i) => (a[i] && b[i] ? (f(b[i]) - f(a[i])) / secs : NaN)).filter(Number.isFinite);
      return { mean: v.reduce((x, y) => x + y, 0) / Math.max(1, v.length), max: Math.max(...v), answered: v.length };
    };
    const rin = per((c) => c.in);
    const rout = per((c) => c.out);
    const burstIn = burst.filter(Boolean).map((c) => c.in);
    // Received per tab per second, by message type (the steady-state window).
    const kinds = {};
    pages.forEach((_, i) => {
      if (!a[i] || !b[i]) return;
      for (const [k, v] of Object.entries(b[i].kinds)) kinds[k] = (kinds[k] ?? 0) + v - (a[i].kinds[k] ?? 0);
    });
    const answeredTabs = pages.filter((_, i) => a[i] && b[i]).length;
    const byKind = Object.entries(kinds)
      .map(([k, v]) => `${k} ${(v / Math.max(1, answeredTabs) / secs).toFixed(1)}`)
      .join(", ");
    const id = await inject(`chatter-${mode}-${n}`);
    const got = await Promise.all(
      pages.map((page) =>
        until("the probe event", () => answer(page, (id) => !!document.querySelector(`[data-event-id="${id}"]`), id), 3000 + 100 * n)
          .then(() => 1)
          .catch(() => 0),
      ),
    );
    const live = got.reduce((x, y) => x + y, 0);
    const streams = (await stats()).open_connections;
    const row = {
      mode,
      n,
      opened: `${opened.toFixed(1)} s`,
      burstInMax: burstIn.length ? Math.max(...burstIn) : NaN,
      inPerTab: rin.mean.toFixed(1),
      inMax: rin.max.toFixed(1),
      outPerTab: rout.mean.toFixed(2),
      allPostsPerSec: (rout.mean * rout.answered).toFixed(1),
      answered: `${rin.answered}/${n}`,
      live: `${live}/${n}`,
      streams,
      byKind,
    };
    rows.push(row);
    console.error(JSON.stringify(row));
    await context.close();
  }
}
await browser.close();
console.log(
  `\nchatter (Chromium): messages per tab per second over ${SECONDS} s, ${SETTLE} s after the last tab opened; burst: messages a tab received while the N tabs opened`,
);
console.table(rows);
process.exit(0);
