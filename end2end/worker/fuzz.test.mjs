// Property-style test: whatever a tab posts (garbled JSON, wrong types, hostile values, not even a
// string), the hub must not throw and must not change what it holds for the other tabs. Seeded,
// so a failure replays: FUZZ_SEED=<n> node --test end2end/worker/
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate, port, say, hello, device, serverHello } from "./sim.mjs";

/** mulberry32: a small seeded PRNG, [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(random) {
  const int = (n) => Math.floor(random() * n);
  const pick = (list) => list[int(list.length)];
  const chars = `{}[]":,\\ abcz019-.eE+\u0000\u00e9\u{1F600}\n`;
  const junk = () => Array.from({ length: int(40) }, () => pick([...chars])).join("");
  const scalar = () =>
    pick([null, true, false, 0, -1, 1.5, 2 ** 53, 2 ** 60, 1e308, -0, "", "e1", "e0", "105", "NaN", junk()]);
  const value = (depth = 0) =>
    depth > 2 || random() < 0.6
      ? scalar()
      : random() < 0.5
        ? Array.from({ length: int(4) }, () => value(depth + 1))
        : Object.fromEntries(Array.from({ length: int(4) }, () => [pick(["type", "tab", "last_id", "epoch", "__proto__", "x"]), value(depth + 1)]));
  /** A message that looks like a tab's, with any field wrong or missing. */
  const almost = () => {
    const message = {};
    if (random() < 0.9) message.type = pick(["hello", "ping", "bye", "event", "resync", "constructor", "__proto__", 7, null]);
    if (random() < 0.8) message.tab = random() < 0.6 ? pick(["fuzz", "a", "b", "", "__proto__"]) : value();
    if (random() < 0.7) message.visible = value();
    if (random() < 0.8) message.last_id = pick([null, -1, 0, 1.5, 101, 105, 110, 10 ** 6, 2 ** 60, "105", [105], { id: 105 }]);
    if (random() < 0.8) message.epoch = pick([null, "e1", "e0", "", 7, ["e1"], { epoch: "e1" }]);
    return message;
  };
  /** A well-typed registration or goodbye at any position, meaningful or not. */
  const wellTyped = () => ({ ...almost(), type: pick(["hello", "ping", "bye"]), tab: pick(["fuzz", "a", "b", junk()]) });
  return () => {
    switch (int(8)) {
      case 6:
      case 7: return JSON.stringify(wellTyped());
      case 0: return junk();
      case 1: return JSON.stringify(value());
      case 2: return JSON.stringify(almost());
      case 3: { const text = JSON.stringify(almost()); return text.slice(0, int(text.length)); }
      case 4: return JSON.stringify(almost()).replace(/"/g, pick(["'", "", '\\"']));
      default: return pick([undefined, null, 42, {}, [], { type: "hello", tab: "x" }, Symbol("s"), () => 0, new Uint8Array(3)]);
    }
  };
}

test("garbled messages from some tabs neither throw nor change the hub for the others", () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261129);
  const next = generator(prng(seed));
  const sim = simulate();
  const [a, b] = [port(), port()];
  hello(sim, a, "a", null, "e1");
  hello(sim, b, "b", null, "e1");
  sim.stream().handlers.onOpen();
  serverHello(sim, "e1", 100);
  for (let id = 101; id <= 110; id++) device(sim, id);
  const position = () => {
    const { streamState, epoch, lastId, awaitingReset, replayBase, replay, nextAttempt } = sim.hub.inspect();
    return { streamState, epoch, lastId, awaitingReset, replayBase, replay, nextAttempt };
  };
  const before = position();
  const [sentA, sentB, streams, ignoredBefore] = [a.sent.length, b.sent.length, sim.streams.length, sim.hub.inspect().ignored];

  const fuzzers = Array.from({ length: 4 }, () => port());
  let rejected = 0;
  for (let i = 0; i < 800; i++) {
    const input = next();
    const from = fuzzers[i % fuzzers.length];
    let accepted;
    assert.doesNotThrow(() => { accepted = sim.hub.onMessage(from, input); }, `seed ${seed}, input ${i}: ${String(input)}`);
    assert.equal(typeof accepted, "boolean");
    if (!accepted) rejected += 1;
    if (typeof input !== "string") assert.equal(accepted, false, `seed ${seed}, input ${i}: not a string`);
  }

  assert.deepEqual(position(), before, `seed ${seed}`);
  assert.equal(sim.streams.length, streams, "no stream opened or closed");
  assert.equal(sim.hub.inspect().ignored - ignoredBefore, rejected, "every rejected message is counted");
  assert.ok(rejected > 200 && rejected < 700, `${rejected} of 800 rejected: garbage, and registrations`);
  // The others got statuses only (fuzzing tabs that register change the registry), and are in it.
  for (const [p, from] of [[a, sentA], [b, sentB]]) {
    assert.deepEqual([...new Set(p.sent.slice(from).map((m) => m.type))].filter((t) => t !== "status"), []);
    assert.ok(["a", "b"].every((id) => p.lastStatus().tabs.some((t) => t.id === id)));
  }
  // And the relay still works for them, and for a well-formed newcomer.
  device(sim, 111);
  assert.deepEqual(a.ids().slice(-2), [110, 111]);
  assert.deepEqual(b.ids().slice(-2), [110, 111]);
  const late = port();
  hello(sim, late, "late", 105, "e1");
  assert.deepEqual(late.ids(), [106, 107, 108, 109, 110, 111]);
  say(sim, late, { type: "bye", tab: "late" });
});
