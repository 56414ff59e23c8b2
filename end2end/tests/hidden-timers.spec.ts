/**
 * A hidden tab keeps the core's time in a dedicated worker (`public/tabrelay-timer.js`, #16): a
 * hidden page's own timers fire at most once a second in real browsers (Firefox, Chromium), which
 * stretched heartbeats and crash detection to seconds. Headless Chromium throttles nothing and
 * shows every page as visible, so here the page's visibility is emulated (as in
 * rendering.spec.ts) and what is checked is who keeps the time: the worker for hidden tabs, not
 * for visible ones, and the page's own timers when the worker cannot load (the tabs still elect,
 * fail over and deliver). How much sooner a hidden Firefox tab notices a crash is measured by
 * `scripts/bench-failover --browser=firefox`.
 */
import { expect, test, type Page } from "@playwright/test";
import {
  closeContexts,
  hideable,
  inject,
  openTabs,
  setHidden,
  uniqueDevice,
  waitForConnections,
  waitForEventEverywhere,
  waitForOneLeader,
} from "./support";

test.afterEach(async ({ browser }) => closeContexts(browser));
test.beforeEach(async ({ request }) => waitForConnections(request, 0));

/**
 * Installed before the page's scripts (with `hideable`): `window.__timerWorker` counts the
 * messages the page posts to the timer worker, the timers it fires back, and the page's own
 * `setTimeout` calls.
 */
function instrument() {
  const w = window as unknown as Record<string, unknown>;
  const counts = { posted: 0, fired: 0, own: 0 };
  w.__timerWorker = counts;
  const setTimeout = window.setTimeout;
  w.setTimeout = (...args: Parameters<typeof setTimeout>) => {
    counts.own++;
    return setTimeout(...args);
  };
  const NativeWorker = window.Worker;
  w.Worker = function (url: string | URL, options?: WorkerOptions) {
    const worker = new NativeWorker(url, options);
    if (String(url).includes("tabrelay-timer")) {
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (message: unknown) => {
        counts.posted++;
        post(message);
      };
      worker.addEventListener("message", () => counts.fired++);
    }
    return worker;
  };
}

const timerWorker = (page: Page) =>
  page.evaluate(
    () => (window as unknown as { __timerWorker: { posted: number; fired: number; own: number } }).__timerWorker,
  );

/** Waits until each page has armed `n` more timers of its own (a leader beats every 250 ms). */
async function ownTimersRun(pages: Page[], n: number) {
  const before = await Promise.all(pages.map(timerWorker));
  for (const [i, page] of pages.entries()) {
    await expect.poll(async () => (await timerWorker(page)).own - before[i].own).toBeGreaterThanOrEqual(n);
  }
}

const PATH = "/?mode=leader&election=protocol";

test("hidden tabs keep the core's time in the worker, visible ones on their own timers", async ({
  browser,
  request,
}) => {
  const context = await browser.newContext();
  await context.addInitScript(hideable);
  await context.addInitScript(instrument);
  const pages = await openTabs(context, 3, PATH);
  const leader = await waitForOneLeader(pages);
  // Visible: heartbeats and deadlines run, none through the worker.
  await ownTimersRun(pages, 4);
  for (const page of pages) expect((await timerWorker(page)).posted).toBe(0);

  for (const page of pages) await setHidden(page, true);
  // Every hidden tab's deadlines now fire from the worker (heartbeats, the leader's silence).
  for (const page of pages) await expect.poll(async () => (await timerWorker(page)).fired).toBeGreaterThan(2);

  // Hidden throughout: the leader closes, the others elect and deliver.
  const survivors = pages.filter((p) => p !== leader);
  await leader.close();
  await waitForOneLeader(survivors);
  await waitForConnections(request, 1);
  const id = await inject(request, uniqueDevice("hidden-timer"));
  await waitForEventEverywhere(survivors, id);

  // Shown again: new deadlines go back to the page's own timers.
  for (const page of survivors) await setHidden(page, false);
  const before = await Promise.all(survivors.map(timerWorker));
  await ownTimersRun(survivors, 4);
  const after = await Promise.all(survivors.map(timerWorker));
  // At most the clearing of the timers armed while hidden.
  for (const [i, counts] of after.entries()) expect(counts.posted - before[i].posted).toBeLessThanOrEqual(1);
  await context.close();
});

test("without the timer worker, hidden tabs still elect, fail over and deliver", async ({ browser, request }) => {
  const context = await browser.newContext();
  await context.addInitScript(hideable);
  await context.addInitScript(instrument);
  await context.route("**/tabrelay-timer.js", (route) => route.fulfill({ status: 404, body: "" }));
  const pages = await openTabs(context, 3, PATH);
  for (const page of pages) await setHidden(page, true);
  const leader = await waitForOneLeader(pages);
  await waitForConnections(request, 1);
  const first = await inject(request, uniqueDevice("no-timer-worker"));
  await waitForEventEverywhere(pages, first);
  // The worker never answers: every timer that fired came from the page's own.
  for (const page of pages) expect((await timerWorker(page)).fired).toBe(0);

  const survivors = pages.filter((p) => p !== leader);
  await leader.close();
  await waitForOneLeader(survivors);
  await waitForConnections(request, 1);
  const second = await inject(request, uniqueDevice("no-timer-worker"));
  await waitForEventEverywhere(survivors, second);
  await context.close();
});
