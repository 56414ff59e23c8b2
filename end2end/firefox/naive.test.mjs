/**
 * Naive mode in Firefox: every tab opens its own EventSource, and Firefox's HTTP/1.1 limits per
 * host are not Chromium's flat 6. Measured here (Firefox 153 ESR) and asserted as measured:
 *   - 10 naive tabs opened at once → 7, 8 or 9 streams, never 10: 6 persistent connections per
 *     host, plus up to 3 more that navigations may open ("urgent start") and that a page's stream
 *     then keeps. How many of the 3 get used depends on timing (5 runs: 8, 9, 9, 9, 7 streams;
 *     every page loaded). With 12 tabs: 9 streams every time, and some pages never load.
 *   - Exactly the tabs with a stream are live; the others get no event.
 *   - A starved tab's stream is an ordinary request: it gets a connection only once fewer than 6
 *     are busy. Closing live tabs one by one, the streams go 9 → 8 → 7 → 6 with the starved tab
 *     still starved, and only the close that brings them under 6 lets it in.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BASE, datasetOf, inject, launchFirefox, serverUp, sleep, stats, uniqueDevice, until, waitForConnections, withContext } from "./lib.mjs";

const TABS = 10;
/** Connections per host for ordinary requests (network.http.max-persistent-connections-per-server). */
const PERSISTENT = 6;
/** What navigations may add on top ("urgent start" connections). */
const URGENT_EXTRA = 3;
/** How long a starved tab is watched for an event every live tab has. */
const STARVED_WINDOW_MS = 1500;

let browser;
before(async () => {
  await serverUp();
  browser = await launchFirefox();
});
after(async () => browser?.close());

/** Whether `page` has hydrated and shows event `id` (a page that never loaded answers no). */
async function shows(page, id) {
  const d = await datasetOf(page, 1000);
  if (!d?.tabId) return false;
  return page.evaluate((id) => document.querySelector(`[data-event-id="${id}"]`) !== null, id).catch(() => false);
}

/** The server's stream count once it has not moved for `stableMs`. */
async function settledStreams(stableMs = 2000, timeoutMs = 30_000) {
  let last = -1;
  let since = Date.now();
  return until(
    "the stream count to settle",
    async () => {
      const now = (await stats()).open_connections;
      if (now !== last) [last, since] = [now, Date.now()];
      return now >= PERSISTENT && Date.now() - since >= stableMs ? now : null;
    },
    { timeoutMs, everyMs: 100 },
  );
}

/** Injects an event, waits until every tab of `live` shows it, and returns which of `others` do within a window. */
async function probe(live, others) {
  const id = await inject(uniqueDevice("ff-naive"));
  await until(`the ${live.length} live tabs to show event ${id}`, async () =>
    (await Promise.all(live.map((p) => shows(p, id)))).every(Boolean),
  );
  const got = new Set();
  const deadline = Date.now() + STARVED_WINDOW_MS;
  while (Date.now() < deadline) {
    const now = await Promise.all(others.map((p) => shows(p, id)));
    now.forEach((yes, i) => yes && got.add(others[i]));
    await sleep(100);
  }
  return got;
}

test(`naive: ${TABS} tabs → ${PERSISTENT + 1}–${PERSISTENT + URGENT_EXTRA} streams, the rest starved until fewer than ${PERSISTENT} are busy`, { timeout: 150_000 }, async (t) => {
  await waitForConnections(0);
  await withContext(browser, async (context) => {
    const pages = [];
    for (let i = 0; i < TABS; i++) {
      const page = await context.newPage();
      // Not awaited: a navigation past the cap may never finish.
      page.goto(`${BASE}/?mode=naive`, { timeout: 0 }).catch(() => {});
      pages.push(page);
    }
    const streams = await settledStreams();
    const loaded = (await Promise.all(pages.map((p) => datasetOf(p, 1000)))).filter((d) => d?.tabId).length;
    t.diagnostic(`${streams} streams for ${TABS} tabs; ${loaded} pages loaded`);
    assert.ok(streams > PERSISTENT && streams <= PERSISTENT + URGENT_EXTRA, `${streams} streams`);
    assert.equal((await stats()).streams_by_mode.naive, streams);

    // Exactly the tabs with a stream are live. The event is the clock: once they all have it,
    // the others had every chance to get it too.
    const id = await inject(uniqueDevice("ff-naive"));
    const live = await until(`${streams} tabs showing event ${id}`, async () => {
      const got = await Promise.all(pages.map((p) => shows(p, id)));
      return got.filter(Boolean).length >= streams && pages.filter((_, i) => got[i]);
    });
    assert.equal(live.length, streams, "no more tabs live than streams");
    let starved = pages.filter((p) => !live.includes(p));
    assert.equal((await probe(live, starved)).size, 0, "a starved tab got an event");

    // Live tabs close one by one. While PERSISTENT or more streams are busy, nothing changes for
    // the starved tabs; the close that brings them under PERSISTENT lets exactly one in.
    let remaining = [...live];
    while (remaining.length >= PERSISTENT) {
      await remaining.shift().close();
      const admitted = remaining.length < PERSISTENT;
      await waitForConnections(admitted ? PERSISTENT : remaining.length, "naive");
      const got = await probe(remaining, starved);
      if (!admitted) {
        assert.equal(got.size, 0, `${remaining.length} streams busy: a starved tab got an event`);
        continue;
      }
      // The admitted tab may have had to load its page first: give it time, then exactly one.
      const newcomer = got.size ? [...got] : [await until("a starved tab to get its stream", async () => {
        const id = await inject(uniqueDevice("ff-naive"));
        await sleep(STARVED_WINDOW_MS);
        const now = await Promise.all(starved.map((p) => shows(p, id)));
        return starved.find((_, i) => now[i]);
      })];
      assert.equal(newcomer.length, 1, "exactly one starved tab admitted");
      t.diagnostic(`a starved tab got its stream after ${live.length - remaining.length} of ${live.length} live tabs closed`);
      starved = starved.filter((p) => p !== newcomer[0]);
      if (starved.length) assert.equal((await probe([...remaining, newcomer[0]], starved)).size, 0);
    }
  });
});
