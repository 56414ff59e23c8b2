// tabrelay's SharedWorker, for `?mode=sharedworker`: one worker per origin holds the only
// EventSource and fans every event out to the tabs over their MessagePorts. It lives as long as
// any tab of the origin does, so no single tab closing or crashing interrupts the stream.
//
// Plain JS rather than Rust/wasm: a wasm worker would load a second bundle as large as the page's
// (the runtime of Leptos comes with it) to run these ~200 lines, and cargo-leptos builds one wasm
// target only. The relay logic is `createHub`, written against injected I/O (stream, clock,
// timers) so `end2end/worker/hub.test.mjs` tests it in Node without a browser.
//
// Wire format, JSON strings both ways:
//   tab → worker  {type:"hello", tab, visible, last_id}  register (again, after a freeze or the
//                                 bfcache); events after `last_id` still buffered are replayed
//                 {type:"ping", tab, visible, last_id}  every second (once a minute in a
//                                 throttled hidden tab) and on visibility changes; also
//                                 re-registers a tab the worker forgot
//                 {type:"bye", tab}             `pagehide`
//   worker → tab  {type:"event", name, id, data, at}  a server event; `at`: when the worker got it
//                 {type:"status", stream, next_attempt, tabs:[{id, visible, last_seen}], at}
//                   every 250 ms (the tabs' heartbeat) and on any change; `stream` is one of
//                   closed, connecting, open, backoff
"use strict";

const STREAM_URL = "/api/events?mode=sharedworker";
const EVENT_NAMES = ["device-online", "device-offline", "hello", "stats", "reset"];
/**
 * A tab silent this long is left out of the registry the tabs show (it crashed, froze, or is a
 * hidden tab whose timers Chrome throttles to once a minute). It still gets every event: a
 * throttled tab is alive, and a port to a crashed one costs a dropped message.
 */
const TAB_TIMEOUT_MS = 5000;
/** A tab silent this long is forgotten (if it was only frozen, its next ping brings it back). */
const TAB_FORGET_MS = 10 * 60 * 1000;
/**
 * How often the worker sends every tab its status: the tabs' heartbeat, at the cadence of a
 * leader's (the dashboard calls a pulse late after 750 ms).
 */
const STATUS_EVERY_MS = 250;
/** Device events kept for tabs that re-register after a pause. */
const REPLAY_CAPACITY = 1024;
/** Reconnect backoff: full jitter, doubling from the base to the cap. */
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30000;

/**
 * The relay, free of browser APIs. `io` supplies:
 *   openStream(url, {onOpen, onEvent(name, lastEventId, data), onError}) → {close()}
 *   now() → ms on the tabs' shared time line; setTimer(fn, ms) → handle; clearTimer(handle);
 *   random() → [0, 1)
 */
function createHub(io) {
  /** port → {id, visible, lastSeen} */
  const tabs = new Map();
  let stream = null;
  let streamState = "closed";
  let lastId = null;
  let attempt = 0;
  let retry = null;
  let nextAttempt = null;
  let statusTimer = null;
  /** Device events in id order, at most REPLAY_CAPACITY. */
  const replay = [];
  /**
   * Every device event with an id above this one is in `replay` (null: nothing is known). Ids are
   * consecutive within a run, as the server's own resume rule assumes: the buffer covers a tab at
   * `last_id` iff it reaches back to `last_id + 1`.
   */
  let replayBase = null;
  /**
   * The last `reset` received (its `event` message) and its head, for tabs that were away when it
   * came: a reset is not an event with an id, so no replay after `last_id` would include it.
   */
  let lastReset = null;
  let lastResetHead = null;

  const send = (port, message) => {
    try {
      port.postMessage(JSON.stringify(message));
    } catch (_) {
      // A port whose tab is gone; the registry forgets it after TAB_FORGET_MS of silence.
    }
  };
  const broadcast = (message) => {
    for (const port of tabs.keys()) send(port, message);
  };
  const status = () => ({
    type: "status",
    stream: streamState,
    next_attempt: nextAttempt,
    tabs: [...tabs.values()]
      .filter((t) => io.now() - t.lastSeen <= TAB_TIMEOUT_MS)
      .map((t) => ({ id: t.id, visible: t.visible, last_seen: t.lastSeen })),
    at: io.now(),
  });

  function setStream(state) {
    streamState = state;
    broadcast(status());
  }

  function open() {
    retry = null;
    nextAttempt = null;
    const url = lastId === null ? STREAM_URL : `${STREAM_URL}&last_event_id=${lastId}`;
    // Callbacks of a stream already replaced (a late error or event) must change nothing.
    const current = io.openStream(url, {
      onOpen() {
        if (stream !== current) return;
        attempt = 0;
        setStream("open");
      },
      onEvent(name, lastEventId, data) {
        if (stream === current) receive(name, lastEventId, data);
      },
      onError() {
        if (stream !== current) return;
        // EventSource would retry on its own, but not after an HTTP error (503 when the server is
        // full), and without backoff: the worker owns the policy, as the core does in tabs.
        current.close();
        stream = null;
        scheduleRetry();
      },
    });
    stream = current;
    setStream("connecting");
  }

  function scheduleRetry() {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
    attempt += 1;
    const delay = io.random() * ceiling;
    nextAttempt = io.now() + delay;
    retry = io.setTimer(open, delay);
    setStream("backoff");
  }

  function receive(name, lastEventId, data) {
    let id = null;
    if (name === "device-online" || name === "device-offline") {
      id = /^\d+$/.test(lastEventId) ? Number(lastEventId) : null;
      // A replay after a reconnect may repeat what we already sent: each id once, in order.
      if (id !== null && lastId !== null && id <= lastId) return;
      if (id !== null) {
        if (lastId === null && replayBase === null) replayBase = id - 1;
        lastId = id;
      }
    }
    const message = { type: "event", name, id, data, at: io.now() };
    if (name === "reset") takeReset(message);
    if (id !== null) {
      replay.push(message);
      if (replay.length > REPLAY_CAPACITY) replayBase = replay.shift().id;
    }
    broadcast(message);
  }

  /** The server could not replay: it sent a snapshot current to `head_id` instead. */
  function takeReset(message) {
    let headId = null;
    try {
      headId = JSON.parse(message.data).head_id;
    } catch (_) {
      // Not ours to judge: the tabs parse and report it.
    }
    replay.length = 0;
    if (Number.isSafeInteger(headId)) {
      lastId = headId;
      lastReset = message;
      lastResetHead = headId;
    } else {
      // Unreadable: no tab could use it later either.
      lastReset = null;
      lastResetHead = null;
    }
    replayBase = lastId;
  }

  function sweep() {
    statusTimer = null;
    const now = io.now();
    for (const [port, tab] of tabs) {
      if (now - tab.lastSeen > TAB_FORGET_MS) tabs.delete(port);
    }
    if (tabs.size === 0) return stop();
    statusTimer = io.setTimer(sweep, STATUS_EVERY_MS);
    broadcast(status());
  }

  /** No tab left: close the stream (the browser ends the worker soon after). */
  function stop() {
    if (stream) stream.close();
    stream = null;
    if (retry !== null) io.clearTimer(retry);
    retry = null;
    if (statusTimer !== null) io.clearTimer(statusTimer);
    statusTimer = null;
    streamState = "closed";
  }

  /**
   * A tab new, or back after a pause, at `since` (null: it renders from the server's snapshot and
   * needs nothing). It gets what it missed if the buffer still holds all of it; otherwise a
   * `resync` (refetch the state, go on from the worker's position): never a replay with a gap.
   */
  function catchUp(port, since) {
    if (since === null || lastId === null) return;
    if (since >= lastId || covers(since)) return replayAfter(port, since);
    // Away when the last reset came (frozen, in the bfcache): that reset, then what followed it.
    if (lastReset !== null && since < lastResetHead && covers(lastResetHead)) {
      send(port, lastReset);
      return replayAfter(port, lastResetHead);
    }
    send(port, { type: "resync", epoch: null, head_id: lastId, reason: "too_old" });
  }

  const covers = (since) => replayBase !== null && since >= replayBase;
  function replayAfter(port, since) {
    for (const event of replay) if (event.id > since) send(port, event);
  }

  function register(port, message) {
    const known = tabs.get(port);
    const visible = message.visible !== false;
    tabs.set(port, { id: message.tab, visible, lastSeen: io.now() });
    if (known && message.type === "ping") {
      if (known.visible !== visible) broadcast(status());
      return;
    }
    catchUp(port, Number.isSafeInteger(message.last_id) ? message.last_id : null);
    if (!stream && retry === null) open();
    if (statusTimer === null) statusTimer = io.setTimer(sweep, STATUS_EVERY_MS);
    broadcast(status());
  }

  /** One message from a tab. Anything malformed is ignored: a tab must not break the others. */
  function onMessage(port, text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch (_) {
      return false;
    }
    if (!message || typeof message !== "object" || typeof message.tab !== "string") return false;
    switch (message.type) {
      case "hello":
      case "ping":
        register(port, message);
        return true;
      case "bye":
        if (tabs.delete(port)) {
          if (tabs.size === 0) stop();
          else broadcast(status());
        }
        return true;
      default:
        return false;
    }
  }

  return {
    onMessage,
    /** For tests. */
    inspect: () => ({ streamState, lastId, replayBase, tabs: tabs.size, replay: replay.length, nextAttempt }),
  };
}

if (typeof module !== "undefined") {
  module.exports = { createHub, STREAM_URL, TAB_TIMEOUT_MS, TAB_FORGET_MS, REPLAY_CAPACITY };
} else {
  const hub = createHub({
    openStream(url, handlers) {
      const source = new EventSource(url);
      source.onopen = handlers.onOpen;
      source.onerror = handlers.onError;
      for (const name of EVENT_NAMES) {
        source.addEventListener(name, (e) => handlers.onEvent(name, e.lastEventId, e.data));
      }
      return source;
    },
    now: () => performance.timeOrigin + performance.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (handle) => clearTimeout(handle),
    random: Math.random,
  });
  self.onconnect = (event) => {
    const port = event.ports[0];
    port.onmessage = (message) => hub.onMessage(port, message.data);
  };
}
