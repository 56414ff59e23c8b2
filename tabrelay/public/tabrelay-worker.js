// tabrelay's SharedWorker, for `?mode=sharedworker`: one worker per origin holds the only
// EventSource and fans every event out to the tabs over their MessagePorts. It lives as long as
// any tab of the origin does, so no single tab closing or crashing interrupts the stream.
//
// Plain JS rather than Rust/wasm: a wasm worker would load a second bundle as large as the page's
// (the runtime of Leptos comes with it) to run these few hundred lines, and cargo-leptos builds
// one wasm target only. The relay logic is `createHub`, written against injected I/O (stream,
// clock, timers) so the tests in `end2end/worker/` run it in Node without a browser.
//
// Wire format, JSON strings both ways. A position is `(epoch, last_id)`: the server run (a
// string; ids of two runs are never compared) and the newest device event id of that run.
//   tab → worker  {type:"hello", tab, visible, last_id, epoch}  register (again, after a freeze
//                                 or the bfcache) at that position (`last_id` null: none, it
//                                 renders from the server's snapshot; `epoch` string or null);
//                                 the worker answers as below
//                 {type:"ping", tab, visible, last_id, epoch}  every second (once a minute in a
//                                 throttled hidden tab) and on visibility changes; also
//                                 re-registers, as a hello, a tab the worker forgot
//                 {type:"bye", tab}             `pagehide`
//   worker → tab  {type:"event", name, id, data, at_us, epoch}  a server event (`id` null but
//                                 for device events); `at_us`: when the worker got it; `epoch`:
//                                 its run
//                 {type:"resync", epoch, head_id, reason}  answers a hello the worker cannot
//                                 catch up (`reason`: "too_old", the buffer does not reach back to
//                                 last_id + 1; "other_run"): refetch the state from the server
//                                 and go on from the worker's position `(epoch, head_id)`
//                 {type:"status", stream, next_attempt_us, tabs:[{id, visible, last_seen_us}]
//                                 (in id order), at_us}
//                   every 250 ms (the tabs' heartbeat) and on any change; `stream` is one of
//                   closed, connecting, open, backoff
//   Times (`_us`) are whole microseconds on the tabs' shared time line (performance.timeOrigin
//   + now()): integers, which a tab reads without a float parser.
// A hello at a position is answered, in this order of preference, by: the buffered events after
// `last_id` (same epoch, and the buffer reaches back to last_id + 1, or the tab is not behind);
// the last `reset` the worker got in its run then the events after its head (the tab's position
// predates it: another epoch, or an id below its head); a `resync`. Until the worker knows its own
// position (its stream has not said hello yet, or a new run's reset is due) the answer waits.
// The worker resumes its stream with `&last_event_id=N&epoch=E`; a `hello` of another run than
// its position is followed by a `reset`, which becomes its position.
"use strict";

/**
 * The stream and the event names to listen for come in the worker script's query
 * (`tabrelay-worker.js?url=/api/events%3Fmode%3Dsharedworker&events=a,b,hello,reset`, written by
 * the tabrelay crate): one worker per stream. Without them, the dashboard's defaults.
 */
const QUERY = new URLSearchParams(typeof self !== "undefined" && self.location ? self.location.search : "");
// (`format` in the query, the format of the messages below, only keeps two releases' scripts
// apart in the browser's cache; the worker's name carries it too.)
const STREAM_URL = QUERY.get("url") || "/api/events?mode=sharedworker";
const EVENT_NAMES = QUERY.has("events")
  ? QUERY.get("events").split(",").filter((name) => name !== "")
  : ["device-online", "device-offline", "hello", "stats", "reset"];
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

/** An id as JSON and JavaScript hold it exactly. */
const isId = (value) => Number.isSafeInteger(value) && value >= 0;
/** A time in ms (fractional) as the whole microseconds the tabs read. */
const micros = (ms) => Math.round(ms * 1000);

/** The object `text` is as JSON, or null (not JSON, or not an object). */
function parseObject(text) {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch (_) {
    return null;
  }
}

/**
 * The relay, free of browser APIs. `io` supplies:
 *   openStream(url, {onOpen, onEvent(name, lastEventId, data), onError}) → {close()}
 *   now() → ms on the tabs' shared time line; setTimer(fn, ms) → handle; clearTimer(handle);
 *   random() → [0, 1)
 */
function createHub(io) {
  /**
   * port → {id, visible, lastSeen, waiting}. `waiting`: the position `{epoch, since}` of a tab
   * that registered while the worker had none to compare it with; caught up once the worker has.
   */
  const tabs = new Map();
  let stream = null;
  /** The stream's `lastEventId` as of its last event ("" when it opened): see `receive`. */
  let streamEventId = "";
  let streamState = "closed";
  /**
   * The worker's position: the server run (`epoch`) and the last id it forwarded, or the head it
   * was told of by a `hello` or a `reset`. Ids are only ever compared within one epoch.
   */
  let epoch = null;
  let lastId = null;
  /** The run the current stream serves, from its `hello` (or its `reset`). */
  let streamEpoch = null;
  /**
   * The stream said hello for another run than the worker's position: the server follows with a
   * `reset`. Until it comes the worker has no position a tab's could be compared with.
   */
  let awaitingReset = false;
  /** Malformed messages from tabs, ignored. */
  let ignored = 0;
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
  /**
   * A server event to every tab, but a tab still waiting to be caught up gets no event that moves
   * a position: what it needs is decided (and sent) once the worker has a position.
   */
  const broadcastEvent = (message) => {
    const moves = message.id !== null || message.name === "reset";
    for (const [port, tab] of tabs) if (!(moves && tab.waiting)) send(port, message);
  };
  const status = () => ({
    type: "status",
    stream: streamState,
    next_attempt_us: nextAttempt === null ? null : micros(nextAttempt),
    tabs: [...tabs.values()]
      .filter((t) => io.now() - t.lastSeen <= TAB_TIMEOUT_MS)
      .map((t) => ({ id: t.id, visible: t.visible, last_seen_us: micros(t.lastSeen) }))
      // In id order, as the Tabs panel lists them (the tabs then need no sort of their own).
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    at_us: micros(io.now()),
  });

  function setStream(state) {
    streamState = state;
    broadcast(status());
  }

  function open() {
    retry = null;
    streamEventId = "";
    nextAttempt = null;
    const url = streamUrl();
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

  /** Resume at the worker's position; the epoch tells the server which run its id belongs to. */
  function streamUrl() {
    if (lastId === null) return STREAM_URL;
    const url = `${STREAM_URL}&last_event_id=${lastId}`;
    return epoch === null ? url : `${url}&epoch=${encodeURIComponent(epoch)}`;
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
    if (name === "hello") takeHello(data);
    let id = null;
    // `lastEventId` repeats the stream's last id on events without an `id:` line; an event with
    // one always changes it (ids increase). Any name may carry an id; hello and reset never do.
    const numbered = lastEventId !== streamEventId && name !== "hello" && name !== "reset";
    streamEventId = lastEventId;
    if (numbered) {
      id = /^\d+$/.test(lastEventId) ? Number(lastEventId) : null;
      // Beyond 2^53 a JavaScript number is not the id any more.
      if (!isId(id)) id = null;
      if (id !== null && !takeId(id)) return;
    }
    const message = { type: "event", name, id, data, at_us: micros(io.now()), epoch: streamEpoch };
    if (name === "reset") takeReset(message);
    if (id !== null) {
      replay.push(message);
      if (replay.length > REPLAY_CAPACITY) replayBase = replay.shift().id;
    }
    broadcastEvent(message);
    settle();
  }

  /** Sets the worker's position and empties the buffer: nothing before `head` is held. */
  function startOver(runEpoch, head) {
    epoch = runEpoch;
    lastId = head;
    replay.length = 0;
    replayBase = head;
    lastReset = null;
    lastResetHead = null;
    awaitingReset = false;
  }

  /** The first event of every stream: `{instance, epoch, head_id, retry_ms}`. */
  function takeHello(data) {
    const hello = parseObject(data);
    if (hello === null) return; // Not ours to judge: the tabs parse and report it.
    streamEpoch = typeof hello.epoch === "string" ? hello.epoch : null;
    if (lastId === null) {
      // No position yet: the stream is live from the head it names.
      if (isId(hello.head_id)) startOver(streamEpoch, hello.head_id);
    } else if (streamEpoch !== epoch) {
      // Another run (the server restarted) while the worker held a position in an older one: the
      // server follows with a reset. The buffered ids mean nothing in this run; forget them.
      replay.length = 0;
      replayBase = null;
      lastReset = null;
      lastResetHead = null;
      awaitingReset = true;
    } else if (awaitingReset) {
      // The worker's own run again before the reset came (that stream broke; this one is served
      // from the old run): the server replays after the worker's id; only that is held.
      awaitingReset = false;
      replayBase = lastId;
    }
  }

  /** A numbered device event of the stream's run; false if it was forwarded already. */
  function takeId(id) {
    if (lastId === null || awaitingReset) {
      // The first id of a run the worker holds no position in (a reset was due, yet an event came
      // first): nothing before it can be compared, so the buffer starts with it.
      startOver(streamEpoch, id - 1);
    } else if (id <= lastId) {
      // A replay after a reconnect may repeat what we already sent: each id once, in order.
      return false;
    }
    lastId = id;
    return true;
  }

  /** The server could not replay: it sent a snapshot of run `epoch` current to `head_id`. */
  function takeReset(message) {
    const reset = parseObject(message.data);
    if (reset !== null && isId(reset.head_id)) {
      streamEpoch = typeof reset.epoch === "string" ? reset.epoch : streamEpoch;
      startOver(streamEpoch, reset.head_id);
      lastReset = message;
      lastResetHead = reset.head_id;
    } else {
      // Unreadable (not ours to judge: the tabs parse and report it), so no tab could use it
      // later either. What was buffered predates it.
      replay.length = 0;
      replayBase = awaitingReset ? null : lastId;
      lastReset = null;
      lastResetHead = null;
    }
    message.epoch = streamEpoch;
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

  const positioned = () => lastId !== null && !awaitingReset;

  /**
   * A tab new, or back after a pause, at `(tabEpoch, since)` (`since` null: it renders from the
   * server's snapshot and needs nothing). It gets what it missed if the buffer holds all of it, or
   * the reset it missed and what followed; otherwise a `resync` (refetch the state, go on from the
   * worker's position). Never a replay with a gap, never ids of one run replayed into another.
   */
  function catchUp(port, tabEpoch, since) {
    if (since === null) return;
    if (!positioned()) {
      tabs.get(port).waiting = { epoch: tabEpoch, since };
      return;
    }
    const sameRun = tabEpoch === epoch;
    if (sameRun && (since >= lastId || covers(since))) return replayAfter(port, since);
    // Away when the last reset came (frozen, in the bfcache, or of the run before): that reset,
    // then what followed it.
    if (lastReset !== null && (!sameRun || since < lastResetHead) && covers(lastResetHead)) {
      send(port, lastReset);
      return replayAfter(port, lastResetHead);
    }
    const reason = sameRun ? "too_old" : "other_run";
    send(port, { type: "resync", epoch, head_id: lastId, reason });
  }

  /** Catches up the tabs that registered while the worker had no position of its own. */
  function settle() {
    if (!positioned()) return;
    for (const [port, tab] of tabs) {
      if (tab.waiting === null) continue;
      const { epoch: tabEpoch, since } = tab.waiting;
      tab.waiting = null;
      catchUp(port, tabEpoch, since);
    }
  }

  const covers = (since) => replayBase !== null && since >= replayBase;
  function replayAfter(port, since) {
    for (const event of replay) if (event.id > since) send(port, event);
  }

  function register(port, message) {
    const known = tabs.get(port);
    const visible = message.visible !== false;
    const waiting = known ? known.waiting : null;
    tabs.set(port, { id: message.tab, visible, lastSeen: io.now(), waiting });
    if (known && message.type === "ping") {
      if (known.visible !== visible) broadcast(status());
      return;
    }
    // New, or back after a pause: its position now replaces any it was waiting with.
    tabs.get(port).waiting = null;
    const tabEpoch = typeof message.epoch === "string" ? message.epoch : null;
    catchUp(port, tabEpoch, isId(message.last_id) ? message.last_id : null);
    if (!stream && retry === null) open();
    if (statusTimer === null) statusTimer = io.setTimer(sweep, STATUS_EVERY_MS);
    broadcast(status());
  }

  /** One message from a tab. Anything malformed is ignored: a tab must not break the others. */
  function onMessage(port, text) {
    const message = typeof text === "string" ? parseObject(text) : null;
    if (message === null || typeof message.tab !== "string") return ignore();
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
        return ignore();
    }
  }

  function ignore() {
    ignored += 1;
    return false;
  }

  return {
    onMessage,
    /** For tests. */
    inspect: () => ({
      streamState,
      epoch,
      lastId,
      awaitingReset,
      replayBase,
      replay: replay.length,
      tabs: tabs.size,
      waiting: [...tabs.values()].filter((t) => t.waiting).length,
      nextAttempt,
      ignored,
    }),
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
