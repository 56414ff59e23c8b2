/**
 * A tabrelay server process of the test's own, started as a deploy starts it and stopped the way
 * a deploy stops it (SIGTERM), so a test can restart the server under open tabs.
 *
 * The binary is the release build `cargo leptos end-to-end --release` made (or the one named by
 * `TABRELAY_SERVER_BIN`), run from the repository root with nothing but `LEPTOS_SITE_ADDR` and
 * `LEPTOS_SITE_ROOT`: no cargo-leptos variables leak in, as on a real host.
 */
import { request as playwrightRequest, type APIRequestContext } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

function serverBinary(): string {
  const candidates = [
    process.env.TABRELAY_SERVER_BIN,
    path.join(ROOT, "target/release/server"),
    path.join(ROOT, "target/debug/server"),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`no server binary; tried ${candidates.join(", ")}`);
  return found;
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on the port. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

export async function until<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class OwnServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** Everything the process printed, for a failing test's message. */
  log = "";
  readonly baseURL: string;

  private constructor(readonly port: number, private readonly extraEnv: Record<string, string>) {
    // With TLS (a self-signed certificate for localhost), the name the certificate carries.
    this.baseURL = extraEnv.TABRELAY_TLS ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
  }

  /** Starts a server on a free port, the device simulator off. */
  static async start(extraEnv: Record<string, string> = {}): Promise<OwnServer> {
    const server = new OwnServer(await freePort(), extraEnv);
    await server.start();
    return server;
  }

  /** Starts the process (again) on the same port and waits until it answers. */
  async start(): Promise<void> {
    if (this.child) throw new Error("already running");
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("LEPTOS_")) env[key] = value;
    }
    Object.assign(env, {
      LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
      LEPTOS_SITE_ROOT: "target/site",
      TABRELAY_SIM_INTERVAL_MS: "0",
      RUST_LOG: "warn",
      ...this.extraEnv,
    });
    const child = spawn(serverBinary(), [], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => (this.log += d));
    child.stderr!.on("data", (d) => (this.log += d));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    this.child = child;
    let gone = false;
    this.exited.then(() => (gone = true));
    await until(`the server on port ${this.port} to answer`, 20_000, async () => {
      if (gone) throw new Error(`the server exited at start:\n${this.log}`);
      if (this.extraEnv.TABRELAY_TLS) return (await portOpen(this.port)) ? true : undefined;
      const reply = await fetch(`${this.baseURL}/readyz`);
      return reply.ok ? true : undefined;
    }).catch((err) => {
      throw gone ? new Error(`the server exited at start:\n${this.log}`) : err;
    });
  }

  /** SIGTERM, as a deploy sends, and waits for the process to exit (SIGKILL after 10 s). */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(killer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** An API client for this server (a self-signed certificate is accepted). */
  async api(): Promise<APIRequestContext> {
    return playwrightRequest.newContext({ baseURL: this.baseURL, ignoreHTTPSErrors: true });
  }
}
