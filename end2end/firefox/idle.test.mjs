/**
 * 30 s idle with 7 hidden tabs in Firefox, whose hidden tabs' timers fire at most once a second:
 * the hidden leader's heartbeats slow down, the hidden followers' deadlines fire late, and none of
 * that may look like a dead leader. Leader mode with Web Locks only (the default), to save CI time.
 *
 * Asserted over the idle window: still one leader and one stream, no election (every tab keeps the
 * same term and leader, the server accepts no new stream), and the visible tab's dashboard never
 * flags the heartbeat late and shows its age as it is.
 *
 * The heartbeat is read from the "This tab" panel, which is not in the testing contract: the
 * `.heartbeat` line (class `late` when the last beat is older than 750 ms), its age text ("0.3 s
 * ago") and the pulse's `data-beat` (the beat's time in ms since the epoch).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchFirefox, openTabs, serverUp, sleep, stats, waitForConnections, waitForOneHolder, withContext } from "./lib.mjs";

const TABS = 8;
const IDLE_MS = 30_000;
const SAMPLE_EVERY_MS = 200;

let browser;
before(async () => {
  await serverUp();
  browser = await launchFirefox();
});
after(async () => browser?.close());

/** The heartbeat line as the visible tab shows it, and its true age by the page's clock. */
function heartbeat(page) {
  return page.evaluate(() => {
    const line = document.querySelector(".heartbeat");
    const beat = Number(line?.querySelector(".pulse")?.getAttribute("data-beat"));
    const text = line?.querySelector(".mono")?.textContent ?? "";
    const shown = /^([\d.]+) s ago$/.exec(text);
    return {
      late: line?.classList.contains("late") ?? null,
      text,
      shownMs: shown ? Number(shown[1]) * 1000 : NaN,
      trueMs: Number.isFinite(beat) && beat > 0 ? Date.now() - beat : NaN,
      visible: document.visibilityState,
      term: document.body.dataset.term,
      leaderId: document.body.dataset.leaderId,
      role: document.body.dataset.role,
    };
  });
}

test(`idle ${IDLE_MS / 1000} s with ${TABS - 1} hidden tabs: one leader, no election, the heartbeat shown on time`, { timeout: 120_000 }, async (t) => {
  await waitForConnections(0);
  await withContext(browser, async (context) => {
    const tabs = await openTabs(context, TABS, "/?mode=leader&election=locks");
    const { leader, states } = await waitForOneHolder(tabs, "leader");
    const before = await waitForConnections(1, "leader");
    const visible = tabs[tabs.length - 1];
    assert.equal((await heartbeat(visible.page)).visible, "visible");
    t.diagnostic(`leader is tab ${leader.tabId} (${leader === visible ? "visible" : "hidden"}), term ${states[0].term}`);

    // The deliberate idle window: sample the visible tab's heartbeat line while nothing happens.
    const samples = [];
    const end = Date.now() + IDLE_MS;
    while (Date.now() < end) {
      samples.push(await heartbeat(visible.page));
      await sleep(SAMPLE_EVERY_MS);
    }

    const lates = samples.filter((s) => s.late);
    const trueAges = samples.map((s) => s.trueMs).filter(Number.isFinite);
    const worst = Math.max(...trueAges);
    const skew = Math.max(...samples.map((s) => Math.abs(s.shownMs - s.trueMs)).filter(Number.isFinite));
    t.diagnostic(
      `${samples.length} samples: ${lates.length} flagged late; true heartbeat age max ${worst.toFixed(0)} ms; ` +
        `shown age off by at most ${skew.toFixed(0)} ms`,
    );
    assert.ok(samples.length > 50, "the visible tab answered throughout");
    const role = states[tabs.length - 1].role;
    assert.deepEqual(samples.filter((s) => s.role !== role).map((s) => s.role), [], `the visible tab stays ${role}`);
    assert.deepEqual(lates.map((s) => s.text), [], "the visible tab never flags the heartbeat late");
    assert.ok(samples.every((s) => Number.isFinite(s.shownMs)), "the age is shown as 'N.N s ago' throughout");
    // The age ticks every 250 ms and is rounded to 0.1 s: shown and true age agree within that.
    assert.ok(skew <= 400, `shown heartbeat age within 400 ms of the true age (off by ${skew.toFixed(0)} ms)`);

    // No election: every tab keeps its term and leader, the server saw no new stream.
    const after = await waitForOneHolder(tabs, "leader");
    assert.equal(after.leader, leader, "the same tab leads");
    assert.deepEqual(
      after.states.map((s) => [s.term, s.leaderId]),
      states.map((s) => [s.term, s.leaderId]),
      "no tab saw another term or leader",
    );
    assert.deepEqual(new Set(samples.map((s) => `${s.term}/${s.leaderId}`)).size, 1, "the visible tab's term never moved");
    const now = await stats();
    assert.equal(now.open_connections, 1);
    assert.equal(now.total_connections, before.total_connections, "no stream was opened while idle");
  });
});
