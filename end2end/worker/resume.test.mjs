// What a tab is sent when it registers with a position `(epoch, last_id)`: a replay when the
// worker's buffer covers the gap, the reset it missed (then what followed), or a `resync` — never
// a replay with a gap, never ids of one server run replayed into another.
// Run: `node --test end2end/worker/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { worker, simulate, port, say, hello, liveTab, device, serverHello, serverReset } from "./sim.mjs";

const { STREAM_URL, REPLAY_CAPACITY } = worker;
/** What a port got besides statuses, as `[type, name or reason, id, epoch]`. */
const got = (p) =>
  p.sent.filter((m) => m.type !== "status").map((m) => m.type === "event" ? [m.name, m.id, m.epoch] : [m.type, m.reason, m.head_id, m.epoch]);

test("a tab behind what the buffer holds gets a resync, never a replay with a gap", () => {
  const sim = simulate();
  liveTab(sim, "a");
  sim.stream().handlers.onOpen();
  serverHello(sim, "e1", 100);
  for (let id = 101; id <= 105; id++) device(sim, id);
  // The worker went live at 100: it holds everything after it.
  const whole = port();
  hello(sim, whole, "whole", 100, "e1");
  assert.deepEqual(whole.ids(), [101, 102, 103, 104, 105]);
  const behind = port();
  hello(sim, behind, "behind", 50, "e1");
  assert.deepEqual(got(behind), [["resync", "too_old", 105, "e1"]]);
  // Then it continues from the worker's position with the live events.
  device(sim, 106);
  assert.deepEqual(behind.ids(), [106]);
  assert.equal(behind.events()[0].epoch, "e1");
});

test("a tab at or ahead of the worker's position gets nothing replayed; one with no position neither", () => {
  const sim = simulate();
  liveTab(sim, "a");
  serverHello(sim, "e1", 100);
  device(sim, 101);
  for (const [tab, last] of [["at", 101], ["ahead", 150], ["none", null]]) {
    const p = port();
    hello(sim, p, tab, last, "e1");
    assert.deepEqual(got(p), [], tab);
  }
});

test("a reset while a tab was away reaches it when it comes back, then the events after it", () => {
  const sim = simulate();
  liveTab(sim, "a");
  serverHello(sim, "e1", 100);
  device(sim, 101);
  // b saw 101, then went into the bfcache (`pagehide` says bye).
  const b = port();
  hello(sim, b, "b", 101, "e1");
  say(sim, b, { type: "bye", tab: "b" });
  serverReset(sim, "e1", 300);
  device(sim, 301);
  device(sim, 302);
  // Back: its position predates the reset, so it gets the reset and what followed, in order.
  hello(sim, b, "b", 101, "e1");
  assert.deepEqual(got(b), [["reset", null, "e1"], ["device-online", 301, "e1"], ["device-online", 302, "e1"]]);
  // A tab that already had the reset only gets what followed it.
  const c = port();
  hello(sim, c, "c", 301, "e1");
  assert.deepEqual(got(c), [["device-online", 302, "e1"]]);
  // Once the buffer no longer reaches back to the reset's head, the reset is not enough: resync.
  for (let id = 303; id <= 302 + REPLAY_CAPACITY; id++) device(sim, id);
  const d = port();
  hello(sim, d, "d", 101, "e1");
  assert.deepEqual(got(d), [["resync", "too_old", 302 + REPLAY_CAPACITY, "e1"]]);
});

test("a server restart: the worker reopens at its position, forgets old ids, tabs get the new run's reset", () => {
  const sim = simulate();
  const a = liveTab(sim, "a");
  serverHello(sim, "e1", 100);
  device(sim, 101);
  device(sim, 102);
  sim.stream().handlers.onError();
  sim.advance(60_000);
  assert.equal(sim.stream().url, `${STREAM_URL}&last_event_id=102&epoch=e1`);
  // The new run: its hello, then (our position is of another run) a reset.
  serverHello(sim, "e2", 40);
  assert.equal(sim.hub.inspect().replay, 0, "ids of the old run are forgotten");
  // A tab registering between the two waits for the reset rather than get a replay of e1's ids.
  const between = port();
  hello(sim, between, "between", 101, "e1");
  assert.deepEqual(got(between), []);
  serverReset(sim, "e2", 40, "resume point is from another run");
  assert.deepEqual(sim.hub.inspect().lastId, 40);
  assert.equal(sim.hub.inspect().epoch, "e2");
  // Ids of the new run are below the old ones here (a clock that went back): not duplicates.
  device(sim, 41);
  assert.deepEqual(got(a).slice(-2), [["reset", null, "e2"], ["device-online", 41, "e2"]]);
  assert.deepEqual(got(between), [["reset", null, "e2"], ["device-online", 41, "e2"]]);
  // A tab back with an old-run position gets the reset, never e1 ids.
  const old = port();
  hello(sim, old, "old", 101, "e1");
  assert.deepEqual(got(old), [["reset", null, "e2"], ["device-online", 41, "e2"]]);
  // The next reconnect resumes in the new run.
  sim.stream().handlers.onError();
  sim.advance(60_000);
  assert.equal(sim.stream().url, `${STREAM_URL}&last_event_id=41&epoch=e2`);
});

test("a server restart the worker learns of without a reset: old-run tabs get a resync", () => {
  // A fresh worker (every tab was frozen) comes up after the restart: it holds no reset.
  const sim = simulate();
  liveTab(sim, "a");
  serverHello(sim, "e2", 40);
  device(sim, 41);
  const old = port();
  hello(sim, old, "old", 41, "e1");
  assert.deepEqual(got(old), [["resync", "other_run", 41, "e2"]], "the same id in another run means nothing");
});

test("a tab with a position that registers before the stream said hello is answered after it", () => {
  const sim = simulate();
  const [current, behind] = [port(), port()];
  hello(sim, current, "current", 100, "e1");
  hello(sim, behind, "behind", 90, "e1");
  assert.deepEqual(got(current), []);
  assert.deepEqual(got(behind), []);
  assert.equal(sim.stream().url, STREAM_URL, "a fresh worker has no position of its own");
  serverHello(sim, "e1", 100);
  // Events without an id (hello, stats) reach a waiting tab; then the worker's answer.
  assert.deepEqual(got(behind), [["hello", null, "e1"], ["resync", "too_old", 100, "e1"]]);
  device(sim, 101);
  assert.deepEqual(got(current), [["hello", null, "e1"], ["device-online", 101, "e1"]]);
  assert.deepEqual(got(behind).at(-1), ["device-online", 101, "e1"]);
});

test("the stream URL carries the epoch, URL-encoded", () => {
  const sim = simulate();
  liveTab(sim, "a");
  serverHello(sim, "run 7&x=1", 10);
  sim.stream().handlers.onError();
  sim.advance(60_000);
  assert.equal(sim.stream().url, `${STREAM_URL}&last_event_id=10&epoch=run%207%26x%3D1`);
});

test("a new run's hello, then the worker's run again before any reset: resume, but hold only the replay", () => {
  const sim = simulate();
  const a = liveTab(sim, "a");
  serverHello(sim, "e1", 100);
  device(sim, 101);
  device(sim, 102);
  serverHello(sim, "e2", 5); // A stream of another run; it breaks before its reset.
  sim.stream().handlers.onError();
  sim.advance(60_000);
  assert.equal(sim.stream().url, `${STREAM_URL}&last_event_id=102&epoch=e1`, "still the worker's position");
  serverHello(sim, "e1", 103);
  device(sim, 103);
  assert.deepEqual(a.ids(), [101, 102, 103]);
  // 101 and 102 were forgotten with the other run's hello: a tab at 100 must not get 103 alone.
  const behind = port();
  hello(sim, behind, "behind", 100, "e1");
  assert.deepEqual(got(behind), [["resync", "too_old", 103, "e1"]]);
  const current = port();
  hello(sim, current, "current", 102, "e1");
  assert.deepEqual(got(current), [["device-online", 103, "e1"]]);
});
