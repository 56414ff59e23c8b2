// The SharedWorker's relay (`public/tabrelay-worker.js`) on simulated I/O, shared by the tests in
// this folder: a fake EventSource, a virtual clock and timers that run when the test advances time.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
export const worker = require("../../tabrelay/public/tabrelay-worker.js");
const { createHub } = worker;

/** A hub on simulated I/O, and the knobs a test turns. */
export function simulate() {
  // A fractional start, as `performance.now()` gives: the worker must still send whole microseconds.
  const sim = { now: 1_000_000.123, timers: [], streams: [], random: 0.5 };
  sim.hub = createHub({
    openStream(url, handlers) {
      const stream = { url, handlers, closed: false, close() { this.closed = true; } };
      sim.streams.push(stream);
      return stream;
    },
    now: () => sim.now,
    setTimer(fn, ms) {
      const timer = { at: sim.now + ms, fn };
      sim.timers.push(timer);
      return timer;
    },
    clearTimer(timer) {
      sim.timers = sim.timers.filter((t) => t !== timer);
    },
    random: () => sim.random,
  });
  /** Tabs that ping every second while time advances, as live tabs do: `[port, tab]`. */
  sim.alive = [];
  /** Runs every timer due within `ms`, in time order; the `alive` tabs ping each second. */
  sim.advance = (ms) => {
    const end = sim.now + ms;
    let nextPing = sim.now + 1000;
    for (;;) {
      sim.timers.sort((a, b) => a.at - b.at);
      const next = sim.timers[0];
      const at = Math.min(next && next.at <= end ? next.at : Infinity, nextPing);
      if (at > end) break;
      sim.now = at;
      if (at === nextPing) {
        for (const [p, tab] of sim.alive) sim.hub.onMessage(p, JSON.stringify({ type: "ping", tab, visible: true, last_id: null }));
        nextPing += 1000;
      } else {
        sim.timers.shift();
        next.fn();
      }
    }
    sim.now = end;
  };
  sim.stream = () => sim.streams.at(-1);
  sim.openStreams = () => sim.streams.filter((s) => !s.closed).length;
  return sim;
}

/** A MessagePort that records what the worker sent it, parsed. */
export function port() {
  const p = { sent: [], postMessage(text) { p.sent.push(JSON.parse(text)); } };
  p.events = () => p.sent.filter((m) => m.type === "event");
  p.ids = () => p.events().filter((m) => m.id !== null).map((m) => m.id);
  p.lastStatus = () => p.sent.filter((m) => m.type === "status").at(-1);
  return p;
}

export const say = (sim, port, message) => sim.hub.onMessage(port, JSON.stringify(message));
/** A tab's `hello`; `epoch` is left out of the message when undefined (tabs of before epochs). */
export const hello = (sim, p, tab, last_id = null, epoch = undefined) =>
  say(sim, p, { type: "hello", tab, visible: true, last_id, epoch });
/** A tab that registers and then pings every second while time advances. */
export function liveTab(sim, tab) {
  const p = port();
  hello(sim, p, tab);
  sim.alive.push([p, tab]);
  return p;
}
export const device = (sim, id) => sim.stream().handlers.onEvent("device-online", String(id), `{"id":${id}}`);
/** The server's `hello`, first on every stream. */
export const serverHello = (sim, epoch, head_id) =>
  sim.stream().handlers.onEvent("hello", "", JSON.stringify({ instance: "test", epoch, head_id, retry_ms: 1000 }));
/** The server's `reset`: a snapshot current to `head_id` of run `epoch`. */
export const serverReset = (sim, epoch, head_id, reason = "too old") =>
  sim.stream().handlers.onEvent("reset", "", JSON.stringify({ epoch, head_id, devices: [], reason }));
