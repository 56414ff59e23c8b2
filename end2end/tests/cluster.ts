/**
 * A deployment of the test's own, started and stopped by the test: a real `redis-server`, several
 * tabrelay replicas sharing it (`TABRELAY_BUS`), and a real nginx in front of them, configured
 * from the repository's `deploy/nginx.conf.template` (through `deploy/render-nginx`), all on free
 * loopback ports. The same pieces `scripts/cluster` runs by hand.
 */
import { request as playwrightRequest, type APIRequestContext } from "@playwright/test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { OwnServer, freePort, until } from "./own-server";

const ROOT = path.resolve(__dirname, "../..");

/** A child process that is stopped with the cluster. */
class Daemon {
  log = "";
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (d) => (this.log += d));
    child.stderr?.on("data", (d) => (this.log += d));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }
}

export class Cluster {
  private constructor(
    readonly dir: string,
    readonly redis: Daemon,
    readonly replicas: OwnServer[],
    readonly nginx: Daemon,
    /** nginx: what the browsers talk to. */
    readonly baseURL: string,
  ) {}

  static async start(replicaCount = 3): Promise<Cluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tabrelay-cluster-"));
    fs.chmodSync(dir, 0o755);
    const redisPort = await freePort();
    const redis = new Daemon(
      spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    await until("redis-server to answer", 10_000, async () => {
      execFileSync("redis-cli", ["-p", String(redisPort), "ping"], { stdio: "pipe" });
      return true;
    });
    const replicas: OwnServer[] = [];
    for (let i = 0; i < replicaCount; i++) {
      replicas.push(await OwnServer.start({ TABRELAY_BUS: `redis://127.0.0.1:${redisPort}` }));
    }
    const listen = `127.0.0.1:${await freePort()}`;
    const config = execFileSync(
      path.join(ROOT, "deploy/render-nginx"),
      [dir, listen, ...replicas.map((r) => `127.0.0.1:${r.port}`)],
      { encoding: "utf8" },
    );
    fs.writeFileSync(path.join(dir, "nginx.conf"), config);
    const nginx = new Daemon(
      spawn("nginx", ["-c", path.join(dir, "nginx.conf"), "-p", dir, "-g", "daemon off;"], { stdio: ["ignore", "pipe", "pipe"] }),
    );
    const baseURL = `http://${listen}`;
    await until("nginx to answer", 10_000, async () => ((await fetch(`${baseURL}/readyz`)).ok ? true : undefined));
    return new Cluster(dir, redis, replicas, nginx, baseURL);
  }

  /** An API client talking to the deployment through nginx. */
  async api(): Promise<APIRequestContext> {
    return playwrightRequest.newContext({ baseURL: this.baseURL });
  }

  /** `/api/stats` of one replica, asked directly (not through nginx). */
  async replicaStats(replica: OwnServer): Promise<{ open_connections: number; replica_open_connections: number; replicas: number }> {
    return (await fetch(`${replica.baseURL}/api/stats`)).json();
  }

  /** The replica holding exactly `n` streams now, if one does. */
  async replicaHolding(n: number): Promise<OwnServer | undefined> {
    for (const replica of this.replicas) {
      const stats = await this.replicaStats(replica).catch(() => undefined);
      if (stats?.replica_open_connections === n) return replica;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    await this.nginx.stop();
    for (const replica of this.replicas) await replica.stop();
    await this.redis.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
