import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { findRedisServerBinary, startRedisServer } from "@/lib/cache/store/embeddedRedisServer";
import { claimStoreLock } from "@/lib/cache/store/storeLock";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";
import { RedisBlobStore, createRedisClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import { createLogger } from "@/lib/log";
import { metricsRegistry } from "@/lib/metrics/registry";
import { describeBlobStoreContract } from "@/tests/support/blobStoreContract";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";

const silent = createLogger("silent");
let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis.teardown());

async function openRedisStore(url = redis.url, timeoutMs?: number): Promise<RedisBlobStore> {
  const client = createRedisClient(url);
  expect(await waitUntilReady(client, 5_000)).toBe(true);
  return new RedisBlobStore(client, silent, timeoutMs);
}

async function storeErrorCount(op: string): Promise<number> {
  const metric = metricsRegistry.getSingleMetric("vlcache_store_errors_total");
  const values = (await metric!.get()).values;
  return values.find((v) => v.labels.op === op)?.value ?? 0;
}

const implementations: Array<[string, () => Promise<BlobStore>]> = [
  ["redis", () => openRedisStore()],
  ["memory", async () => new MemoryBlobStore({ maxBytes: 1 << 20 })],
];

for (const [name, open] of implementations) describeBlobStoreContract(name, open);

describe("RedisBlobStore", () => {
  it("gives entries the requested TTL", async () => {
    const store = await openRedisStore();
    try {
      await store.set("ttl:a", Buffer.from("v"), 120);
      await store.setIfAbsent("ttl:b", Buffer.from("v"), 30);
      await store.setIfAbsent("ttl:c", Buffer.from("v"), 5);
      expect(await store.renewIfValue("ttl:c", Buffer.from("v"), 90)).toBe(true);
      const inspect = redis.client();
      expect(await inspect.ttl("ttl:c")).toBeGreaterThan(85);
      expect(await inspect.ttl("ttl:c")).toBeLessThanOrEqual(90);
      expect(await inspect.ttl("ttl:a")).toBeGreaterThan(115);
      expect(await inspect.ttl("ttl:a")).toBeLessThanOrEqual(120);
      expect(await inspect.ttl("ttl:b")).toBeGreaterThan(25);
      expect(await inspect.ttl("ttl:b")).toBeLessThanOrEqual(30);
    } finally {
      await store.close();
      await redis.flush();
    }
  });

  it("publishes to every store subscribed to the channel, its own included, also after a Redis restart", async () => {
    const stores = [await openRedisStore(), await openRedisStore()];
    const inspect = redis.client();
    const subscribers = async (channel: string) => ((await inspect.pubsub("NUMSUB", channel)) as [string, number])[1];
    const heard: string[] = [];
    try {
      const stops = stores.map((store, i) => store.subscribe("chan:news", (message) => heard.push(`${i}:${message}`)));
      stores[1].subscribe("chan:news", (message) => heard.push(`1b:${message}`));
      await expect.poll(() => subscribers("chan:news")).toBe(2);
      expect(await stores[0].publish("chan:news", "one")).toBe(2);
      await expect.poll(() => heard.length).toBe(3);
      expect(heard.sort()).toEqual(["0:one", "1:one", "1b:one"]);

      await redis.restart();
      await expect
        .poll(() => stores.every((store) => store.isHealthy()), { timeout: 10_000, interval: 100 })
        .toBe(true);
      await expect.poll(() => subscribers("chan:news"), { timeout: 10_000, interval: 100 }).toBe(2);
      stops[0]();
      await expect.poll(() => subscribers("chan:news")).toBe(1);
      expect(await stores[1].publish("chan:news", "two")).toBe(1);
      await expect.poll(() => heard.length).toBe(5);
      expect(heard.slice(3).sort()).toEqual(["1:two", "1b:two"]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
    await expect.poll(() => subscribers("chan:news")).toBe(0);
  });

  it("fails soft while Redis is down, counts the failures, and reconnects by itself", async () => {
    const store = await openRedisStore();
    try {
      await store.set("outage:k", Buffer.from("before"), 60);
      const generationBefore = store.generation;
      const getErrorsBefore = await storeErrorCount("get");
      const setNxErrorsBefore = await storeErrorCount("setIfAbsent");
      const renewErrorsBefore = await storeErrorCount("renewIfValue");

      await redis.stop();
      await expect.poll(() => store.isHealthy(), { timeout: 5_000 }).toBe(false);
      expect(await store.get("outage:k")).toBeNull();
      expect(await store.setIfAbsent("outage:n", Buffer.from("x"), 60)).toBe(false);
      await expect(store.set("outage:k", Buffer.from("x"), 60)).resolves.toBeUndefined();
      expect(await store.renewIfValue("outage:k", Buffer.from("before"), 60)).toBe(false);
      expect(await store.deleteIfValue("outage:k", Buffer.from("before"))).toBe(false);
      expect(await store.del("outage:k")).toBe(0);
      expect(await store.deleteByPrefix("outage:")).toBe(0);
      expect(await store.publish("outage:chan", "lost")).toBe(0);
      expect(await storeErrorCount("get")).toBe(getErrorsBefore + 1);
      expect(await storeErrorCount("setIfAbsent")).toBe(setNxErrorsBefore + 1);
      expect(await storeErrorCount("renewIfValue")).toBe(renewErrorsBefore + 1);

      await redis.restart();
      await expect.poll(() => store.isHealthy(), { timeout: 10_000, interval: 100 }).toBe(true);
      // A new generation: what was written before may be gone, and here it is.
      await expect.poll(() => store.generation).toBe(generationBefore + 1);
      // The restarted server has no persistence: the old value is gone, and writes work again.
      expect(await store.get("outage:k")).toBeNull();
      expect(await store.setIfAbsent("outage:n", Buffer.from("y"), 60)).toBe(true);
      expect((await store.get("outage:n"))!.toString()).toBe("y");
    } finally {
      await store.close();
      await redis.flush();
    }
  });

  it("a stalled Redis (SIGSTOP) costs one deadline: unhealthy at once, strict operations say unavailable, not absent", async () => {
    const deadlineMs = 300;
    const store = await openRedisStore(redis.url, deadlineMs);
    try {
      await store.strict.set("stall:image", Buffer.from("png"), 60);
      redis.pause();
      const startedAt = Date.now();
      await expect(store.strict.get("stall:image")).rejects.toMatchObject({ name: "StoreUnavailableError" });
      // The deadline held (with slack for a loaded 2-core machine); a stall used to cost ~40 s per request.
      expect(Date.now() - startedAt).toBeLessThan(deadlineMs + 2_000);
      expect(store.isHealthy()).toBe(false);
      // Once a deadline is missed, the next operations fail without being sent, and soft ones answer their fallback.
      await expect(store.strict.setIfAbsent("stall:new", Buffer.from("x"), 60)).rejects.toMatchObject({
        name: "StoreUnavailableError",
      });
      expect(await store.get("stall:image")).toBeNull();
      redis.resume();
      await expect.poll(() => store.isHealthy(), { timeout: 5_000, interval: 50 }).toBe(true);
      expect((await store.strict.get("stall:image"))!.toString()).toBe("png");
      expect(await store.strict.get("stall:new")).toBeNull();
    } finally {
      redis.resume();
      await store.close();
      await redis.flush();
    }
  });

  it("a lock claim that timed out in a stall is removed once Redis resumes and applies it late", async () => {
    const store = await openRedisStore(redis.url, 200);
    const inspect = redis.client();
    try {
      redis.pause();
      const claim = await claimStoreLock(store, "stall:lock", { ttlSeconds: 30, owner: "test" });
      expect(claim.state).toBe("unavailable");
      redis.resume();
      await expect.poll(async () => inspect.exists("stall:lock"), { timeout: 5_000, interval: 50 }).toBe(0);
      const next = await claimStoreLock(store, "stall:lock", { ttlSeconds: 30, owner: "test" });
      expect(next.state).toBe("held");
      if (next.state === "held") await next.lock.release();
      expect(await inspect.exists("stall:lock")).toBe(0);
    } finally {
      redis.resume();
      await store.close();
      await redis.flush();
    }
  });

  it("past maxmemory with noeviction, a strict write rejects with StoreFullError and nothing is evicted", async () => {
    const parentDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-full-"));
    const server = await startRedisServer({
      binary: findRedisServerBinary()!,
      parentDir,
      maxMemoryBytes: 4 << 20,
      evictionPolicy: "noeviction",
    });
    const store = await openRedisStore(server.url);
    try {
      const value = Buffer.alloc(256 << 10, 7);
      let written = 0;
      let refusal: unknown = null;
      for (; written < 64 && refusal === null; written++) {
        await store.strict.set(`full:${written}`, value, 60).catch((error: unknown) => (refusal = error));
      }
      expect(refusal).toMatchObject({ name: "StoreFullError" });
      expect(store.isHealthy()).toBe(true);
      // Every write that was accepted is still there.
      for (let i = 0; i < written - 1; i++) expect(value.equals((await store.strict.get(`full:${i}`))!)).toBe(true);
      expect(await store.strict.del("full:0")).toBe(1);
    } finally {
      await store.close();
      await server.stop();
      await rm(parentDir, { recursive: true, force: true });
    }
  });

  it("does not take a large value that crosses the connection for longer than the deadline for a stall", async () => {
    const store = await openRedisStore(redis.url, 300);
    try {
      const large = Buffer.alloc(96 << 20, 5);
      const small = store.strict.get("large:absent");
      await store.strict.set("large:png", large, 60);
      expect(await small).toBeNull();
      expect(large.equals((await store.strict.get("large:png"))!)).toBe(true);
      expect(store.isHealthy()).toBe(true);
    } finally {
      await store.close();
      await redis.flush();
    }
  });
});
