import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type StoreConfig } from "@/lib/cache/store/openStore";
import { createLogger } from "@/lib/log";
import { metricsRegistry } from "@/lib/metrics/registry";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";

function capturedLogger() {
  const lines: Array<{ msg: string; store?: string }> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { logger: createLogger("info", sink), lines };
}

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function restartCount(): Promise<number> {
  const values = (await metricsRegistry.getSingleMetric("vlcache_store_restarts_total")!.get()).values;
  return values.reduce((sum, v) => sum + v.value, 0);
}

let cacheDir: string;
let redis: TestRedis;
const base = (): StoreConfig => ({
  redisUrl: undefined,
  redisClusterNodes: undefined,
  embeddedStore: "auto",
  cacheDir,
  storeTimeoutMs: 500,
  userStoreMaxBytes: 16 << 20,
  cacheStoreMaxBytes: 16 << 20,
});

beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-openstore-"));
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.teardown();
  await rm(cacheDir, { recursive: true, force: true });
});

describe("openStore", () => {
  it("uses REDIS_URL when set and says so in one line", async () => {
    const { logger, lines } = capturedLogger();
    const opened = await openStore({ ...base(), redisUrl: redis.url }, logger);
    try {
      expect(opened.mode).toBe("external");
      expect(opened.store.kind).toBe("redis");
      expect(opened.store.isHealthy()).toBe(true);
      expect(lines.filter((l) => l.store)).toEqual([
        expect.objectContaining({ store: "external", msg: `store: Redis at ${redis.url} (REDIS_URL)` }),
      ]);
    } finally {
      await opened.close();
    }
  });

  it("starts two private redis-servers when REDIS_URL is unset: user data persisted and never evicted, caches evicted; stops them on close", async () => {
    const { logger, lines } = capturedLogger();
    const opened = await openStore(base(), logger);
    expect(opened.mode).toBe("embedded");
    expect(lines.filter((l) => l.store).map((l) => l.store)).toEqual(["embedded"]);
    const { user, cache } = opened.embedded!;
    expect(user.port).not.toBe(cache.port);

    await opened.store.set("k", Buffer.from("v"), 60);
    const userDirect = new Redis(user.port, "127.0.0.1");
    const cacheDirect = new Redis(cache.port, "127.0.0.1");
    expect(await userDirect.get("k")).toBe("v");
    expect(await cacheDirect.get("k")).toBeNull();
    expect(await userDirect.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
    expect(await userDirect.config("GET", "dir")).toEqual(["dir", path.join(cacheDir, "redis", "user")]);
    expect(await userDirect.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "noeviction"]);
    expect(await userDirect.config("GET", "maxmemory")).toEqual(["maxmemory", String(16 << 20)]);
    expect(await cacheDirect.config("GET", "appendonly")).toEqual(["appendonly", "no"]);
    expect(await cacheDirect.config("GET", "save")).toEqual(["save", ""]);
    expect(await cacheDirect.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "allkeys-lru"]);
    const cacheDataDir = (await cacheDirect.config("GET", "dir"))[1] as string;
    expect(cacheDataDir.startsWith(path.join(cacheDir, "redis") + path.sep)).toBe(true);
    userDirect.disconnect();
    cacheDirect.disconnect();

    // A second instance on the same CACHE_DIR must not append to the same file.
    await expect(openStore({ ...base(), embeddedStore: "redis-server" }, logger)).rejects.toThrow(/in use by process/);

    await opened.close();
    expect(await portAcceptsConnections(user.port)).toBe(false);
    expect(await portAcceptsConnections(cache.port)).toBe(false);
    expect(existsSync(cacheDataDir)).toBe(false);

    // The app starting again finds what users stored.
    const reopened = await openStore(base(), logger);
    try {
      expect((await reopened.store.strict.get("k"))!.toString()).toBe("v");
    } finally {
      await reopened.close();
    }
  });

  it("restarts an embedded redis-server that was killed, on its port, with the user data it had, and counts it", async () => {
    const opened = await openStore(base(), createLogger("silent"));
    try {
      const { user, cache } = opened.embedded!;
      await opened.store.strict.set("kept", Buffer.from("image bytes"), 600);
      await opened.cacheStore.strict.set("cached", Buffer.from("features"), 600);
      const restartsBefore = await restartCount();
      const [userPid, cachePid] = [user.pid(), cache.pid()];
      process.kill(userPid, "SIGKILL");
      process.kill(cachePid, "SIGKILL");
      await expect
        .poll(
          () =>
            opened.store.isHealthy() &&
            opened.cacheStore.isHealthy() &&
            user.pid() !== userPid &&
            cache.pid() !== cachePid,
          { timeout: 15_000, interval: 100 },
        )
        .toBe(true);
      expect(await restartCount()).toBe(restartsBefore + 2);
      expect((await opened.store.strict.get("kept"))!.toString()).toBe("image bytes");
      // Caches may be dropped: the cache server keeps nothing across a restart.
      expect(await opened.cacheStore.strict.get("cached")).toBeNull();
    } finally {
      await opened.close();
    }
  });

  it("falls back to the in-process store when redis-server is missing, naming the package", async () => {
    const { logger, lines } = capturedLogger();
    const opened = await openStore(base(), logger, { findBinary: () => null });
    expect(opened.mode).toBe("memory");
    expect(opened.store.kind).toBe("memory");
    expect(lines.filter((l) => l.store)).toEqual([
      expect.objectContaining({
        store: "memory",
        msg:
          "store: in-process memory, data lost on exit (redis-server not found on PATH (Debian package: redis-server)); " +
          "user data within 16 MiB (refused when full), caches within 16 MiB (least recently used evicted)",
      }),
    ]);
    await opened.close();
  });

  it("honours EMBEDDED_STORE=memory and refuses EMBEDDED_STORE=redis-server without the binary", async () => {
    const { logger } = capturedLogger();
    const memory = await openStore({ ...base(), embeddedStore: "memory" }, logger);
    expect(memory.mode).toBe("memory");
    await memory.close();
    await expect(
      openStore({ ...base(), embeddedStore: "redis-server" }, logger, { findBinary: () => null }),
    ).rejects.toThrow(/EMBEDDED_STORE=redis-server but redis-server not found/);
  });

  it("starts even when REDIS_URL points at nothing, unhealthy until Redis appears", async () => {
    const { logger, lines } = capturedLogger();
    const port = redis.port;
    await redis.stop();
    const opened = await openStore({ ...base(), redisUrl: redis.url }, logger);
    try {
      expect(opened.store.isHealthy()).toBe(false);
      expect(lines.find((l) => l.store)!.msg).toContain("not reachable yet; retrying in the background");
      expect(await opened.store.get("x")).toBeNull();
      await redis.restart();
      expect(redis.port).toBe(port);
      await expect.poll(() => opened.store.isHealthy(), { timeout: 10_000, interval: 100 }).toBe(true);
    } finally {
      await opened.close();
    }
  });
});

describe("embedded redis-server lifetime", () => {
  it("dies with the Node process that started it, even on SIGKILL", async () => {
    const script = `
      import { findRedisServerBinary, startRedisServer } from "./lib/cache/store/embeddedRedisServer.ts";
      const server = await startRedisServer({ binary: findRedisServerBinary(), parentDir: ${JSON.stringify(cacheDir)} });
      console.log("PORT " + server.port);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: process.cwd(),
      stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        const match = /PORT (\d+)/.exec(chunk.toString());
        if (match) resolve(Number(match[1]));
      });
      child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    });
    expect(await portAcceptsConnections(port)).toBe(true);
    child.kill("SIGKILL");
    await expect.poll(() => portAcceptsConnections(port), { timeout: 10_000, interval: 100 }).toBe(false);
  });
});
