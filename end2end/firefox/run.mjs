#!/usr/bin/env node
/**
 * Runs the Firefox suite: every `*.test.mjs` here, one file at a time (each launches one Firefox
 * and opens up to 10 tabs; on 2 cores parallel files only slow each other down), with the spec
 * reporter, and ends with one line `N passed, N failed` (exit 1 if any failed).
 *
 *   TABRELAY_BASE_URL=http://127.0.0.1:3100 node end2end/firefox/run.mjs [file filter]
 *
 * The server must be running (the simulator may be on: tests only count the events they inject);
 * default URL http://127.0.0.1:3000, the one `cargo leptos end-to-end` serves.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { run } from "node:test";
import { spec } from "node:test/reporters";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? "";
const files = readdirSync(here)
  .filter((f) => f.endsWith(".test.mjs") && f.includes(filter))
  .sort()
  .map((f) => join(here, f));

const started = Date.now();
let passed = 0;
let failed = 0;
const stream = run({ files, concurrency: 1, timeout: 10 * 60_000 });
stream.on("test:pass", (data) => {
  if (data.details?.type !== "suite" && !data.skip) passed++;
});
stream.on("test:fail", (data) => {
  if (data.details?.type !== "suite") failed++;
});
stream.compose(spec).pipe(process.stdout);
await new Promise((resolve) => stream.on("close", resolve));
// The reporter writes asynchronously: let it finish before the summary line.
await new Promise((resolve) => setImmediate(resolve));
console.log(`Firefox suite: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed || !passed ? 1 : 0;
