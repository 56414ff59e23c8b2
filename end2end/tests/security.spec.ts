/**
 * The page's Content-Security-Policy holds: the dashboard hydrates under a per-response nonce
 * with no `'unsafe-inline'` and triggers no violation; markup in server data (a device name) is
 * shown as text and never runs; and a script or inline handler that does get into the DOM
 * without the nonce is blocked, with a `securitypolicyviolation` the page can count.
 */
import { expect, test, type Page, type Response } from "@playwright/test";
import { closeContexts, uniqueDevice, waitForConnections, waitForHydration } from "./support";

test.beforeEach(async ({ request }) => {
  await waitForConnections(request, 0);
});
test.afterEach(async ({ browser }) => closeContexts(browser));

type Violation = { directive: string; blocked: string; sample: string };

declare global {
  interface Window {
    __violations: Violation[];
    __xss?: number;
  }
}

/** Collects every CSP violation of the page's documents into `window.__violations`. */
async function recordViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__violations.push({
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        sample: e.sample,
      }),
    );
  });
}

const violations = (page: Page) => page.evaluate(() => window.__violations);

/** The page's policy as `directive -> sources`, after checking there is exactly one. */
function policyOf(response: Response): Map<string, string[]> {
  const header = response.headers()["content-security-policy"];
  expect(header, "the page has a CSP header").toBeTruthy();
  return new Map(
    header
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name, sources]),
  );
}

function nonceOf(policy: Map<string, string[]>): string {
  const nonces = (policy.get("script-src") ?? []).filter((s) => s.startsWith("'nonce-"));
  expect(nonces, "exactly one nonce in script-src").toHaveLength(1);
  return nonces[0].slice("'nonce-".length, -1);
}

test("the dashboard hydrates under a nonce CSP without any violation", async ({ page }) => {
  await recordViolations(page);
  const response = (await page.goto("/"))!;
  const policy = policyOf(response);
  const scriptSrc = policy.get("script-src")!;
  expect(scriptSrc).toContain("'self'");
  expect(scriptSrc).toContain("'wasm-unsafe-eval'");
  for (const [directive, sources] of policy) {
    expect(sources, `${directive} allows no inline code`).not.toContain("'unsafe-inline'");
    expect(sources, directive).not.toContain("'unsafe-eval'");
  }
  expect(policy.get("style-src")).toEqual(["'self'"]);
  const nonce = nonceOf(policy);
  expect(nonce.length).toBeGreaterThanOrEqual(22);

  await waitForHydration(page);
  // Every executable script carries the header's nonce; the JSON data block needs none.
  const scripts = await page.evaluate(() =>
    Array.from(document.querySelectorAll("script"), (s) => ({ type: s.type, nonce: s.nonce })),
  );
  const executable = scripts.filter((s) => s.type !== "application/json");
  expect(executable.length).toBeGreaterThan(0);
  for (const script of executable) expect(script.nonce).toBe(nonce);

  // Fresh per response.
  const again = (await page.reload())!;
  expect(nonceOf(policyOf(again))).not.toBe(nonce);
  await waitForHydration(page);
  expect(await violations(page)).toEqual([]);
});

test("markup in a device name is shown as text and never runs", async ({ page, request }) => {
  await recordViolations(page);
  const hostile = (n: number) => `<script>window.__xss=${n}</script><img src=x onerror="window.__xss=${n + 1}">`;

  // Rendered by the server (HTML and the snapshot's JSON block) …
  const before = uniqueDevice("csp");
  const posted = await request.post(`/api/devices/${before}/online`, { data: { name: hostile(1) } });
  expect(posted.status(), await posted.text()).toBeLessThan(300);
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.locator(`[data-device="${before}"] .device-name`)).toHaveText(hostile(1));

  // … and live, by the hydrated page.
  const live = uniqueDevice("csp");
  const again = await request.post(`/api/devices/${live}/online`, { data: { name: hostile(3) } });
  expect(again.status(), await again.text()).toBeLessThan(300);
  await expect(page.locator(`[data-device="${live}"] .device-name`)).toHaveText(hostile(3));

  const injected = await page.evaluate(
    () => document.querySelectorAll("[data-device] script, [data-device] img, #event-log img").length,
  );
  expect(injected, "no element was created from the names").toBe(0);
  expect(await page.evaluate(() => window.__xss)).toBeUndefined();
  expect(await violations(page), "text needs no blocking").toEqual([]);
});

test("a script or inline handler without the nonce is blocked and reported", async ({ page }) => {
  await recordViolations(page);
  await page.goto("/");
  await waitForHydration(page);

  // What an injection would add if text were ever rendered as HTML: an inline handler …
  await page.evaluate(() => {
    const div = document.createElement("div");
    div.innerHTML = `<img src="/no-such-image.png" onerror="window.__xss=1">`;
    document.body.append(div);
  });
  // … and a forged inline script (no nonce).
  await page.evaluate(() => {
    const script = document.createElement("script");
    script.textContent = "window.__xss = 2;";
    document.body.append(script);
  });

  await expect
    .poll(async () => (await violations(page)).map((v) => v.directive).sort(), {
      message: "both were blocked and reported",
    })
    .toEqual(["script-src-attr", "script-src-elem"]);
  for (const v of await violations(page)) expect(v.blocked).toBe("inline");
  expect(await page.evaluate(() => window.__xss)).toBeUndefined();
  // The page still works.
  expect(await page.evaluate(() => document.body.dataset.tabId)).toBeTruthy();
});
