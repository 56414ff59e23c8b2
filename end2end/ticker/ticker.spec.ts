/**
 * The example app (`examples/ticker`) on the tabrelay library alone: its own server, stream
 * (`/api/prices`), event names (`price` with ids, `viewers` without) and channel / lock names.
 * 8 tabs share one stream, every tab gets every price once and in order, and when the leader
 * closes or crashes another tab takes over with nothing lost.
 */
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";

async function viewers(request: APIRequestContext): Promise<number> {
  const reply = await request.get("/api/viewers");
  expect(reply.ok()).toBeTruthy();
  return (await reply.json()).open;
}

async function waitForViewers(request: APIRequestContext, n: number): Promise<void> {
  await expect.poll(() => viewers(request), { message: `${n} streams open on the ticker` }).toBe(n);
}

async function publish(request: APIRequestContext, symbol: string, cents: number): Promise<number> {
  const reply = await request.post(`/api/prices/${symbol}/${cents}`);
  expect(reply.ok(), await reply.text()).toBeTruthy();
  return (await reply.json()).id;
}

const role = (page: Page) => page.locator("#role").innerText();

async function waitForOneLeader(pages: Page[]): Promise<Page> {
  let leader: Page | undefined;
  await expect
    .poll(async () => {
      const roles = await Promise.all(pages.map(role));
      const leaders = pages.filter((_, i) => roles[i] === "leader");
      const followers = roles.filter((r) => r === "follower").length;
      leader = leaders.length === 1 ? leaders[0] : undefined;
      return leaders.length === 1 && followers === pages.length - 1;
    }, { message: "exactly one leader, every other tab a follower" })
    .toBe(true);
  // Every follower names the same leader as the leader's own id.
  const id = await leader!.locator("#tab").innerText();
  await expect.poll(async () => (await Promise.all(pages.map((p) => p.locator("#leader").innerText()))).every((l) => l === id)).toBe(true);
  return leader!;
}

/** The ids this tab shows, newest first. */
const shownIds = (page: Page) =>
  page.locator("#ticks li").evaluateAll((items) => items.map((li) => Number(li.getAttribute("data-id"))));

/** Every id in `ids` is shown once, and the tab's ids are in order (newest first). */
async function expectEveryPriceOnce(pages: Page[], ids: number[]): Promise<void> {
  for (const page of pages) {
    await expect
      .poll(async () => {
        const shown = new Set(await shownIds(page));
        return ids.filter((id) => !shown.has(id)).length;
      }, { message: "every published price reached this tab" })
      .toBe(0);
    const shown = await shownIds(page);
    expect(new Set(shown).size, "no price twice").toBe(shown.length);
    expect(shown, "newest first, in id order").toEqual([...shown].sort((a, b) => b - a));
  }
}

// `/`: the leader's `EventSource` listens for `price` and `viewers`; `?events=all`: it reads the
// stream with `fetch` and takes every event, whatever its name.
for (const path of ["/", "/?events=all"]) test(`${path}: 8 tabs share one stream; every price reaches every tab; the leader closes, then crashes`, async ({ browser, request }) => {
  const context = await browser.newContext();
  await waitForViewers(request, 0);
  const pages: Page[] = [];
  for (let i = 0; i < 8; i++) {
    const page = await context.newPage();
    await page.goto(path);
    pages.push(page);
  }
  let leader = await waitForOneLeader(pages);
  await waitForViewers(request, 1);
  // `viewers` (no id) is sent when the count changes: the leader saw its own stream open.
  await expect(leader.locator("#viewers")).toHaveText("1");

  const first: number[] = [];
  for (let i = 0; i < 20; i++) first.push(await publish(request, "ACME", 1000 + i));
  await expectEveryPriceOnce(pages, first);

  // A `halt` is an event of a name the page never listed: only tabs that take every event get it.
  const halt = await (await request.post("/api/halts/ACME")).json();
  const next = await publish(request, "ACME", 999);
  await expectEveryPriceOnce(pages, [next]);
  for (const page of pages) {
    await expect(page.locator(`#others li[data-name="halt"][data-id="${halt.id}"]`)).toHaveCount(path.includes("events=all") ? 1 : 0);
  }
  first.push(next);

  // The leader closes: another tab leads, resumes from the newest id, nothing lost.
  let alive = pages.filter((p) => p !== leader);
  await leader.close();
  const during: number[] = [];
  for (let i = 0; i < 10; i++) during.push(await publish(request, "GLOBEX", 2000 + i));
  leader = await waitForOneLeader(alive);
  await waitForViewers(request, 1);
  await expectEveryPriceOnce(alive, [...first, ...during]);
  // The new leader's stream changed the count: an event without an id, relayed to every tab.
  for (const page of alive) await expect(page.locator("#viewers")).toHaveText("1");

  // The new leader crashes (its renderer dies): the same again.
  alive = alive.filter((p) => p !== leader);
  const cdp = await context.newCDPSession(leader);
  const crashed = leader.waitForEvent("crash");
  cdp.send("Page.crash").catch(() => {});
  await crashed;
  const after: number[] = [];
  for (let i = 0; i < 10; i++) after.push(await publish(request, "INITECH", 3000 + i));
  await waitForOneLeader(alive);
  await waitForViewers(request, 1);
  await expectEveryPriceOnce(alive, [...first, ...during, ...after]);

  await context.close();
  await waitForViewers(request, 0);
});

test("bad input to the ticker's server gets a clear error", async ({ request }) => {
  const reply = await request.post("/api/prices/acme!/1");
  expect(reply.status()).toBe(400);
  expect((await reply.json()).error).toContain("capital letters");
});

test("two mounts in one page are one tab; taking the component down makes the tab leave, bringing it back rejoins", async ({ browser, request }) => {
  const context = await browser.newContext();
  await waitForViewers(request, 0);
  const pages: Page[] = [];
  for (let i = 0; i < 3; i++) {
    const page = await context.newPage();
    await page.goto("/");
    pages.push(page);
  }
  const leader = await waitForOneLeader(pages);
  for (const page of pages) {
    // The status line mounts the hook a second time: the same runtime, the same tab.
    const id = await page.locator("#tab").innerText();
    expect(id).not.toBe("");
    await expect(page.locator("#status-tab")).toHaveText(id);
    await expect(page.locator("#tabs"), "the registry counts pages, not mounts").toHaveText("3");
  }
  await waitForViewers(request, 1);

  // The leader's component goes: its tab resigns and says goodbye, another leads at once.
  const others = pages.filter((p) => p !== leader);
  await leader.locator("#toggle").click();
  await expect(leader.locator("#role")).toHaveCount(0);
  await waitForOneLeader(others);
  for (const page of others) await expect(page.locator("#tabs")).toHaveText("2");
  await waitForViewers(request, 1);
  const id = await publish(request, "ACME", 4242);
  await expectEveryPriceOnce(others, [id]);

  // Back: a new tab in the same page, a follower.
  await leader.locator("#toggle").click();
  await expect(leader.locator("#role")).toHaveText("follower");
  for (const page of pages) await expect(page.locator("#tabs")).toHaveText("3");
  const again = await publish(request, "ACME", 4343);
  await expectEveryPriceOnce(pages, [again]);
  await waitForViewers(request, 1);
  await context.close();
  await waitForViewers(request, 0);
});
