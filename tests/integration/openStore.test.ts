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

let cacheDir: string;
let redis: TestRedis;
const base = (): StoreConfig => ({
  redisUrl: undefined,
  embeddedStore: "auto",
  cacheDir,
  memoryStoreMaxBytes: 1 << 20,
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

  it("starts a private redis-server under CACHE_DIR when REDIS_URL is unset, and stops it on close", async () => {
    const { logger, lines } = capturedLogger();
    const opened = await openStore(base(), logger);
    expect(opened.mode).toBe("embedded");
    const url = /redis:\/\/127\.0\.0\.1:(\d+)/.exec(opened.description)!;
    const port = Number(url[1]);
    const dataDir = /data dir (\S+)/.exec(opened.description)![1];
    expect(dataDir.startsWith(path.join(cacheDir, "redis") + path.sep)).toBe(true);
    expect(lines.filter((l) => l.store).map((l) => l.store)).toEqual(["embedded"]);

    await opened.store.set("k", Buffer.from("v"), 60);
    const direct = new Redis(port, "127.0.0.1");
    expect(await direct.get("k")).toBe("v");
    // No persistence: neither RDB snapshots nor an append-only file.
    expect(await direct.config("GET", "save")).toEqual(["save", ""]);
    expect(await direct.config("GET", "appendonly")).toEqual(["appendonly", "no"]);
    direct.disconnect();

    await opened.close();
    expect(await portAcceptsConnections(port)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("falls back to the in-process store when redis-server is missing, naming the package", async () => {
    const { logger, lines } = capturedLogger();
    const opened = await openStore(base(), logger, { findBinary: () => null });
    expect(opened.mode).toBe("memory");
    expect(opened.store.kind).toBe("memory");
    expect(lines.filter((l) => l.store)).toEqual([
      expect.objectContaining({
        store: "memory",
        msg: "store: in-process memory, data lost on exit (redis-server not found on PATH (Debian package: redis-server))",
      }),
    ]);
    await opened.close();
  });

  it("honours EMBEDDED_STORE=memory and refuses EMBEDDED_STORE=redis-server without the binary", async () => {
    const { logger } = capturedLogger();
    const memory = await openStore({ ...base(), embeddedStore: "memory" }, logger);
    expect(memory.mode).toBe("memory");
    await memory.close();
    await expect(openStore({ ...base(), embeddedStore: "redis-server" }, logger, { findBinary: () => null })).rejects.toThrow(
      /EMBEDDED_STORE=redis-server but redis-server not found/,
    );
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
