// Unit tests of the SharedWorker's relay (`public/tabrelay-worker.js`), in Node with simulated
// I/O: a fake EventSource, a virtual clock and timers that run when the test advances time.
// Run: `node --test end2end/worker/` (scripts/test does).
import { test } from "node:test";
import assert from "node:assert/strict";
import { worker, simulate, port, say, hello, liveTab, device } from "./sim.mjs";

const { STREAM_URL, TAB_TIMEOUT_MS, TAB_FORGET_MS, REPLAY_CAPACITY } = worker;

test("the first tab opens the one stream; more tabs share it", () => {
  const sim = simulate();
  const [a, b, c] = [port(), port(), port()];
  hello(sim, a, "a");
  hello(sim, b, "b");
  hello(sim, c, "c");
  assert.equal(sim.streams.length, 1);
  assert.equal(sim.stream().url, STREAM_URL);
  sim.stream().handlers.onOpen();
  device(sim, 1);
  for (const p of [a, b, c]) assert.deepEqual(p.ids(), [1]);
  assert.equal(a.lastStatus().stream, "open");
  assert.deepEqual(a.lastStatus().tabs.map((t) => t.id).sort(), ["a", "b", "c"]);
});

test("the status lists the tabs in id order, whatever order they joined in", () => {
  // The tabs show the list as it comes (they do not sort it again).
  const sim = simulate();
  for (const id of ["0000000000c2", "0000000000a1", "0000000000b7"]) hello(sim, port(), id);
  const last = port();
  hello(sim, last, "000000000001");
  assert.deepEqual(
    last.lastStatus().tabs.map((t) => t.id),
    ["000000000001", "0000000000a1", "0000000000b7", "0000000000c2"],
  );
});

test("every time the worker sends is whole microseconds, as the tabs read them", () => {
  // The tabs read these fields as unsigned integers: a fraction would make them drop the message.
  const sim = simulate();
  const a = liveTab(sim, "a");
  sim.stream().handlers.onError();
  sim.advance(1000.4567);
  device(sim, 1);
  const times = a.sent.flatMap((m) => [
    m.at_us,
    m.next_attempt_us,
    ...(m.tabs ?? []).map((t) => t.last_seen_us),
  ]);
  const present = times.filter((t) => t !== undefined && t !== null);
  assert.ok(present.length > 3, `${present.length} times sent`);
  for (const t of present) assert.ok(Number.isSafeInteger(t), `${t} is not whole microseconds`);
});

test("a tab leaving does not touch the stream; the last one closes it", () => {
  const sim = simulate();
  const [a, b] = [port(), port()];
  hello(sim, a, "a");
  hello(sim, b, "b");
  say(sim, a, { type: "bye", tab: "a" });
  assert.equal(sim.openStreams(), 1);
  device(sim, 1);
  assert.deepEqual(a.ids(), []);
  assert.deepEqual(b.ids(), [1]);
  say(sim, b, { type: "bye", tab: "b" });
  assert.equal(sim.openStreams(), 0);
  assert.equal(sim.timers.length, 0, "no timer outlives the last tab");
});

test("a silent tab leaves the registry after the timeout but keeps getting events", () => {
  // Silent: crashed, frozen, or hidden long enough for Chrome to run its timers once a minute.
  const sim = simulate();
  const alive = liveTab(sim, "alive");
  const silent = port();
  hello(sim, silent, "silent");
  sim.advance(TAB_TIMEOUT_MS + 2000);
  assert.deepEqual(alive.lastStatus().tabs.map((t) => t.id), ["alive"]);
  device(sim, 1);
  assert.deepEqual(silent.ids(), [1], "a throttled hidden tab is alive: it must not miss events");
  // Its once-a-minute ping puts it back in the registry.
  say(sim, silent, { type: "ping", tab: "silent", visible: false, last_id: 1 });
  assert.deepEqual(alive.lastStatus().tabs.map((t) => t.id).sort(), ["alive", "silent"]);
  assert.equal(alive.lastStatus().tabs.find((t) => t.id === "silent").visible, false);
});

test("a tab silent for 10 minutes is forgotten; with every tab forgotten the stream closes", () => {
  const sim = simulate();
  const a = liveTab(sim, "a");
  const b = port();
  hello(sim, b, "b");
  sim.advance(TAB_FORGET_MS + 1000);
  device(sim, 1);
  assert.deepEqual(b.ids(), [], "forgotten");
  assert.equal(sim.openStreams(), 1);
  // Forgotten, not banned: a frozen tab that thaws pings and gets what it missed.
  say(sim, b, { type: "ping", tab: "b", visible: true, last_id: 0 });
  assert.deepEqual(b.ids(), [1]);
  sim.alive = [];
  sim.advance(TAB_FORGET_MS + 1000);
  assert.equal(sim.openStreams(), 0);
  assert.equal(sim.timers.length, 0, "no timer outlives the last tab");
});

test("after an error it backs off, resumes from the last id, and drops replayed duplicates", () => {
  const sim = simulate();
  const a = liveTab(sim, "a");
  device(sim, 1);
  device(sim, 2);
  const first = sim.stream();
  first.handlers.onError();
  assert.ok(first.closed, "the failed EventSource is closed: the worker owns the retry");
  assert.equal(a.lastStatus().stream, "backoff");
  assert.ok(a.lastStatus().next_attempt_us > sim.now * 1000);
  assert.ok(Number.isInteger(a.lastStatus().next_attempt_us), "times are whole microseconds");
  sim.advance(60_000);
  assert.equal(sim.streams.length, 2);
  assert.equal(sim.stream().url, `${STREAM_URL}&last_event_id=2`);
  // The server replays from 3, but a replay overlapping what was sent must not repeat it.
  device(sim, 2);
  device(sim, 3);
  assert.deepEqual(a.ids(), [1, 2, 3]);
});

test("backoff doubles up to the cap and resets once the stream opens", () => {
  const sim = simulate();
  sim.random = 0.999;
  const a = liveTab(sim, "a");
  const delays = [];
  for (let i = 0; i < 12; i++) {
    const before = sim.now;
    sim.stream().handlers.onError();
    const timer = sim.timers.find((t) => t.at > before && t.fn.name === "open");
    delays.push(Math.round(timer.at - before));
    sim.advance(timer.at - before);
  }
  assert.deepEqual(delays.slice(0, 4), [500, 999, 1998, 3996]);
  assert.ok(delays.every((d) => d <= 30_000) && delays.at(-1) > 29_000);
  sim.stream().handlers.onOpen();
  const before = sim.now;
  sim.stream().handlers.onError();
  assert.equal(Math.round(sim.timers.find((t) => t.fn.name === "open").at - before), 500);
});

test("reset moves the resume point to the snapshot's head and clears the replay buffer", () => {
  const sim = simulate();
  const a = liveTab(sim, "a");
  device(sim, 5);
  sim.stream().handlers.onEvent("reset", "", JSON.stringify({ head_id: 40, devices: [], reason: "too old" }));
  assert.equal(sim.hub.inspect().lastId, 40);
  assert.equal(sim.hub.inspect().replay, 0);
  assert.equal(a.events().at(-1).name, "reset", "tabs get the snapshot");
  sim.stream().handlers.onError();
  sim.advance(60_000);
  assert.equal(sim.stream().url, `${STREAM_URL}&last_event_id=40`);
});

test("a tab back from a pause gets what it missed, once, from the replay buffer", () => {
  const sim = simulate();
  const [a, b] = [port(), port()];
  hello(sim, a, "a");
  hello(sim, b, "b");
  for (let id = 1; id <= 5; id++) device(sim, id);
  // b saw up to 2, then froze (the worker dropped it), and is back.
  const late = port();
  hello(sim, late, "b", 2);
  assert.deepEqual(late.ids(), [3, 4, 5]);
  // Nobody else gets the replay.
  assert.deepEqual(a.ids(), [1, 2, 3, 4, 5]);
});

test("the replay buffer is bounded", () => {
  const sim = simulate();
  hello(sim, port(), "a");
  for (let id = 1; id <= REPLAY_CAPACITY + 50; id++) device(sim, id);
  assert.equal(sim.hub.inspect().replay, REPLAY_CAPACITY);
  // A tab at 0 missed 1..50, which the buffer no longer holds: replaying 51.. would skip them
  // silently (this test used to assert exactly that). It must refetch instead.
  const late = port();
  hello(sim, late, "late", 0);
  assert.deepEqual(late.ids(), []);
  assert.deepEqual(late.sent.filter((m) => m.type !== "status"), [
    { type: "resync", epoch: null, head_id: REPLAY_CAPACITY + 50, reason: "too_old" },
  ]);
  // At the oldest position still covered (the first buffered id - 1), the replay is whole.
  const edge = port();
  hello(sim, edge, "edge", 50);
  assert.equal(edge.ids().length, REPLAY_CAPACITY);
  assert.equal(edge.ids()[0], 51);
});

test("stats and hello pass through without moving the resume point", () => {
  const sim = simulate();
  const a = port();
  hello(sim, a, "a");
  device(sim, 7);
  sim.stream().handlers.onEvent("stats", "7", `{"open_connections":1}`);
  assert.equal(sim.hub.inspect().lastId, 7);
  assert.deepEqual(a.events().map((e) => [e.name, e.id]), [["device-online", 7], ["stats", null]]);
});

test("malformed messages from a tab are ignored and break nothing", () => {
  const sim = simulate();
  const [good, bad] = [port(), port()];
  hello(sim, good, "good");
  for (const text of ["not json", "null", "42", "{}", `{"type":"hello"}`, `{"type":"evil","tab":"x"}`, `{"type":"hello","tab":7}`]) {
    assert.equal(sim.hub.onMessage(bad, text), false, text);
  }
  assert.equal(sim.streams.length, 1);
  device(sim, 1);
  assert.deepEqual(good.ids(), [1]);
  assert.deepEqual(good.lastStatus().tabs.map((t) => t.id), ["good"]);
  assert.deepEqual(bad.sent, []);
});

test("a non-numeric event id is passed on without an id and does not move the resume point", () => {
  const sim = simulate();
  const a = port();
  hello(sim, a, "a");
  device(sim, 3);
  sim.stream().handlers.onEvent("device-online", "3abc", "{}");
  assert.equal(sim.hub.inspect().lastId, 3);
  assert.deepEqual(a.events().map((e) => e.id), [3, null]);
});

test("a stale stream's late callbacks are ignored", () => {
  const sim = simulate();
  const a = liveTab(sim, "a");
  const old = sim.stream();
  old.handlers.onError();
  sim.advance(1000);
  const current = sim.stream();
  assert.notEqual(current, old);
  current.handlers.onOpen();
  old.handlers.onError();
  old.handlers.onEvent("device-online", "9", "{}");
  assert.ok(!current.closed);
  assert.equal(a.lastStatus().stream, "open");
  assert.deepEqual(a.ids(), []);
});

test("tabs get a status often enough that the dashboard never calls the pulse late", () => {
  const sim = simulate();
  const a = liveTab(sim, "a");
  sim.advance(5000);
  const times = a.sent.filter((m) => m.type === "status").map((m) => m.at_us / 1000);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  assert.ok(gaps.length >= 19, `${gaps.length} statuses in 5 s`);
  // The dashboard shows a heartbeat older than 750 ms as late.
  assert.ok(Math.max(...gaps) < 750, `largest gap ${Math.max(...gaps)} ms`);
});

test("a tab away when a reset came gets that reset when it registers again, then what followed", () => {
  const sim = simulate();
  const a = liveTab(sim, "a");
  device(sim, 1);
  device(sim, 2);
  // b saw up to 2, then went into the bfcache (`pagehide` says bye).
  const b = port();
  hello(sim, b, "b", 2);
  say(sim, b, { type: "bye", tab: "b" });
  sim.stream().handlers.onEvent("reset", "", JSON.stringify({ head_id: 40, devices: [], reason: "too old" }));
  device(sim, 41);
  hello(sim, b, "b", 2);
  assert.deepEqual(b.events().map((e) => [e.name, e.id]), [["reset", null], ["device-online", 41]]);
  assert.deepEqual(a.events().map((e) => [e.name, e.id]).slice(-2), [["reset", null], ["device-online", 41]]);
});

test("any event name with a new id is numbered and resumed; an event without an id line is not", () => {
  const sim = simulate();
  const a = port();
  hello(sim, a, "a");
  sim.stream().handlers.onOpen();
  const on = sim.stream().handlers.onEvent;
  on("price", "7", `{"cents":1}`);
  // `lastEventId` repeats the stream's last id on an event without an `id:` line.
  on("viewers", "7", `{"open":1}`);
  on("message", "8", `{}`);
  assert.deepEqual(a.events().map((m) => [m.name, m.id]), [["price", 7], ["viewers", null], ["message", 8]]);
  // The position moved with every numbered event, whatever its name.
  sim.stream().handlers.onError();
  sim.advance(60_000);
  assert.equal(sim.stream().url, `${STREAM_URL}&last_event_id=8`);
});
