import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeFeatureRecord, type FeatureDtype } from "@/lib/cache/featureRecord";
import { preprocessDigest, type FeatureIdentity } from "@/lib/cache/featureIdentity";
import { l1FeaturesKey, l1LockKey } from "@/lib/cache/keys";
import { DEFAULT_L1_TTL_SECONDS, FeatureCache } from "@/lib/cache/l1Features";
import { RedisBlobStore, createRedisClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import { parseImageId, parseModelFingerprint, parseTenantId, type ImageId, type TenantId } from "@/lib/ids";
import { createLogger, type Logger } from "@/lib/log";
import { metricsRegistry } from "@/lib/metrics/registry";
import { Engine } from "@/lib/model/engine/engine";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
import { fixtureBundle, fixtureDir, maxAbsDiff, readFloatNpy, readReference } from "./engineFixtures";

/**
 * L1 over a real redis-server and a real vision encoder (the tiny DeepStack fixture's bundle): single flight in one
 * process and across cache instances that share only Redis, corrupt entries, storage dtypes, isolation, outages.
 * Each cache instance stands for one process: it has its own LRU and its own Redis connection.
 */
const NAME = "tiny-deepstack-tied";
const silent = createLogger("silent");
const tenant = parseTenantId("public")!;
const fingerprint = parseModelFingerprint("a".repeat(64))!;
const preprocess = preprocessDigest({ test: "cache-l1" });

let redis: TestRedis;
let engine: Engine;
let pixelValues: Float32Array;
let grid: ImageGrid;
const stores: RedisBlobStore[] = [];
let nextImage = 0;

beforeAll(async () => {
  redis = await startTestRedis();
  engine = await Engine.load(await fixtureBundle(NAME), { executionProvider: "cpu" });
  const reference = readReference(NAME);
  const [t, h, w] = reference.image_grid_thw[0];
  grid = { t, h, w };
  pixelValues = readFloatNpy(path.join(fixtureDir(NAME), "images", `${reference.images_in_order[0]}.pixel_values.npy`));
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await engine?.release();
  await redis?.teardown();
});

async function openStore(): Promise<RedisBlobStore> {
  const client = createRedisClient(redis.url);
  expect(await waitUntilReady(client, 5_000)).toBe(true);
  const store = new RedisBlobStore(client, silent);
  stores.push(store);
  return store;
}

/** A process's L1 over its own connection; `runs` counts its encoder runs. */
interface CacheOptions {
  storage?: FeatureDtype;
  fingerprint?: string;
  memoryBytes?: number;
  lockTtlSeconds?: number;
  logger?: Logger;
}

async function openCache(options: CacheOptions = {}) {
  const cache = new FeatureCache({
    store: await openStore(),
    fingerprint: parseModelFingerprint(options.fingerprint ?? fingerprint)!,
    shape: {
      hidden: engine.config.text.hiddenSize,
      deepstackLayers: engine.config.vision.deepstackVisualIndexes.length,
    },
    storage: options.storage,
    memoryBytes: options.memoryBytes,
    lockTtlSeconds: options.lockTtlSeconds,
    logger: options.logger ?? silent,
  });
  const counter = { runs: 0 };
  const compute = async (): Promise<ImageFeatures> => {
    counter.runs += 1;
    const [features] = await engine.encodeImages(pixelValues, [grid]);
    return features;
  };
  return { cache, counter, compute };
}

/** A fresh image id per test, so tests never see each other's entries. */
function freshIdentity(storage: FeatureDtype = "fp32"): FeatureIdentity {
  nextImage += 1;
  const imageId = parseImageId(nextImage.toString(16).padStart(64, "0")) as ImageId;
  return { imageId, preprocess, storage };
}

/** An encode that waits for the test: `open()` lets it run. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** A logger whose JSON lines the test can read. */
function capturingLogger(): { logger: Logger; messages: () => Array<{ level: number; msg: string }> } {
  const lines: string[] = [];
  return {
    logger: createLogger("info", { write: (line: string) => lines.push(line) }),
    messages: () => lines.map((line) => JSON.parse(line) as { level: number; msg: string }),
  };
}

async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await metricsRegistry.getSingleMetric(name)!.get()).values;
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Resolves once every command `cache` sent before has been answered: one connection answers in order. */
async function settled(cache: FeatureCache): Promise<void> {
  await cache.lookup({ tenant, identity: freshIdentity(), grid });
}

async function restartRedis(): Promise<void> {
  await redis.restart();
  await expect.poll(() => stores.every((store) => store.isHealthy()), { interval: 50, timeout: 10_000 }).toBe(true);
}

function sameFeatures(a: ImageFeatures, b: ImageFeatures): void {
  expect(a.grid).toEqual(b.grid);
  expect(
    Buffer.from(a.features.buffer, a.features.byteOffset, a.features.byteLength).equals(
      Buffer.from(b.features.buffer, b.features.byteOffset, b.features.byteLength),
    ),
  ).toBe(true);
  expect(maxAbsDiff(a.deepstack!, b.deepstack!)).toBe(0);
}

describe("L1 feature cache", () => {
  it("computes once, then serves from process memory and, in another process, from Redis — bit for bit", async () => {
    const identity = freshIdentity();
    const first = await openCache();
    const computed = await first.cache.getOrCompute({ tenant, identity, grid }, first.compute);
    expect(computed.source).toBe("computed");
    const again = await first.cache.getOrCompute({ tenant, identity, grid }, first.compute);
    expect(again.source).toBe("l1");
    expect(first.counter.runs).toBe(1);

    const second = await openCache();
    const shared = await second.cache.getOrCompute({ tenant, identity, grid }, second.compute);
    expect(shared.source).toBe("l1");
    expect(second.counter.runs).toBe(0);
    sameFeatures(shared.features, computed.features);
    const [direct] = await engine.encodeImages(pixelValues, [grid]);
    sameFeatures(computed.features, direct);
  });

  it("encodes an image once when many requests in one process and in two processes ask at the same time", async () => {
    const identity = freshIdentity();
    const a = await openCache();
    const b = await openCache();
    const answers = await Promise.all([
      ...Array.from({ length: 4 }, () => a.cache.getOrCompute({ tenant, identity, grid }, a.compute)),
      ...Array.from({ length: 4 }, () => b.cache.getOrCompute({ tenant, identity, grid }, b.compute)),
    ]);
    expect(a.counter.runs + b.counter.runs).toBe(1);
    answers.forEach((answer) => sameFeatures(answer.features, answers[0].features));
    // The lock is released once the record is written.
    expect(await redis.client().exists(l1LockKey(tenant, fingerprint, identity))).toBe(0);
  });

  it("waits for the other process's encode instead of starting its own, and takes over when the holder dies", async () => {
    const identity = freshIdentity();
    const lockKey = l1LockKey(tenant, fingerprint, identity);
    const raw = redis.client();
    // A "dead" holder: a lock that nobody renews expires after its TTL (1 s here).
    await raw.set(lockKey, "dead-process", "EX", 1);
    const waiter = await openCache();
    const started = Date.now();
    const answer = await waiter.cache.getOrCompute({ tenant, identity, grid }, waiter.compute);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(answer.source).toBe("computed");
    expect(waiter.counter.runs).toBe(1);
  });

  it("never renews or releases a lock that expired and was claimed by another process", async () => {
    const identity = freshIdentity();
    const lockKey = l1LockKey(tenant, fingerprint, identity);
    const raw = redis.client();
    const log = capturingLogger();
    // A renews every 1/3 s; B holds its claim for 30 s.
    const a = await openCache({ lockTtlSeconds: 1, logger: log.logger });
    const b = await openCache({ lockTtlSeconds: 30 });
    const encodeA = gate();
    const encodeB = gate();
    const answerA = a.cache.getOrCompute({ tenant, identity, grid }, () => encodeA.wait.then(a.compute));
    await expect.poll(() => raw.get(lockKey), { interval: 2, timeout: 2000 }).not.toBeNull();
    const tokenA = await raw.get(lockKey);

    // A's lock is gone as if it had expired during a pause longer than its TTL, and B claims the image at once, long
    // before A's first renewal is due.
    await raw.del(lockKey);
    const answerB = b.cache.getOrCompute({ tenant, identity, grid }, () => encodeB.wait.then(b.compute));
    await expect.poll(() => raw.get(lockKey), { interval: 2, timeout: 2000 }).not.toBeNull();
    const tokenB = await raw.get(lockKey);
    expect(tokenB).not.toBe(tokenA);

    // Two of A's renewal ticks later, B's claim is B's, with B's TTL.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await raw.get(lockKey)).toBe(tokenB);
    expect(await raw.ttl(lockKey)).toBeGreaterThan(25);

    // A finishes: its record is stored, and its release leaves B's claim alone.
    encodeA.open();
    expect((await answerA).source).toBe("computed");
    expect(await raw.get(lockKey)).toBe(tokenB);
    expect(
      log
        .messages()
        .filter((m) => m.msg.includes("encode lock lost"))
        .map((m) => m.level),
    ).toEqual([40]);

    // B (which claimed while A still encoded) finishes and releases its own claim.
    encodeB.open();
    expect((await answerB).source).toBe("computed");
    expect(await raw.exists(lockKey)).toBe(0);
    expect(a.counter.runs + b.counter.runs).toBe(2);
    const c = await openCache();
    expect((await c.cache.getOrCompute({ tenant, identity, grid }, c.compute)).source).toBe("l1");
    expect(c.counter.runs).toBe(0);
  });

  it("drops a corrupt entry, recomputes it and stores a valid one", async () => {
    const identity = freshIdentity();
    const writer = await openCache();
    await writer.cache.getOrCompute({ tenant, identity, grid }, writer.compute);
    const key = l1FeaturesKey(tenant, fingerprint, identity);
    const raw = redis.client();
    const stored = (await raw.getBuffer(key))!;
    const corrupt = Buffer.from(stored);
    corrupt[corrupt.length - 5] ^= 0xff;
    corrupt[100] ^= 0x01;
    await raw.set(key, corrupt);
    const droppedBefore = await metricValue("vlcache_cache_dropped_entries_total", { level: "l1", reason: "checksum" });

    const reader = await openCache();
    const answer = await reader.cache.getOrCompute({ tenant, identity, grid }, reader.compute);
    expect(answer.source).toBe("computed");
    expect(reader.counter.runs).toBe(1);
    expect(await metricValue("vlcache_cache_dropped_entries_total", { level: "l1", reason: "checksum" })).toBe(
      droppedBefore + 1,
    );
    const rewritten = decodeFeatureRecord((await raw.getBuffer(key))!, {
      hidden: engine.config.text.hiddenSize,
      deepstackLayers: 2,
    });
    expect(rewritten.ok).toBe(true);
  });

  it("drops an entry whose grid does not match the image and recomputes", async () => {
    const identity = freshIdentity();
    const writer = await openCache();
    await writer.cache.getOrCompute({ tenant, identity, grid }, writer.compute);
    const reader = await openCache();
    const otherGrid = { t: 1, h: grid.h + 2, w: grid.w };
    expect(await reader.cache.lookup({ tenant, identity, grid: otherGrid })).toBeNull();
    expect(await redis.client().exists(l1FeaturesKey(tenant, fingerprint, identity))).toBe(0);
  });

  it.each<FeatureDtype>(["fp16", "int8"])(
    "serves %s features identically when computed and when cached, close to fp32",
    async (storage) => {
      const identity = freshIdentity(storage);
      const first = await openCache({ storage });
      const computed = await first.cache.getOrCompute({ tenant, identity, grid }, first.compute);
      const second = await openCache({ storage });
      const cached = await second.cache.getOrCompute({ tenant, identity, grid }, second.compute);
      expect(cached.source).toBe("l1");
      sameFeatures(cached.features, computed.features);
      const [exact] = await engine.encodeImages(pixelValues, [grid]);
      const scale = exact.features.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const error = maxAbsDiff(computed.features.features, exact.features);
      expect(error).toBeGreaterThan(0);
      expect(error).toBeLessThanOrEqual(storage === "fp16" ? scale / 1024 : scale / 127);
      const values = exact.features.length + exact.deepstack!.length;
      const rows = values / engine.config.text.hiddenSize;
      expect(await redis.client().strlen(l1FeaturesKey(tenant, fingerprint, identity))).toBe(
        40 + (storage === "fp16" ? 2 * values : 4 * rows + values),
      );
    },
  );

  it("keeps tenants and models apart", async () => {
    const identity = freshIdentity();
    const a = await openCache();
    await a.cache.getOrCompute({ tenant, identity, grid }, a.compute);
    const otherTenant = parseTenantId("team-b") as TenantId;
    const b = await openCache();
    expect(await b.cache.lookup({ tenant: otherTenant, identity, grid })).toBeNull();
    expect((await b.cache.getOrCompute({ tenant: otherTenant, identity, grid }, b.compute)).source).toBe("computed");
    const otherModel = await openCache({ fingerprint: "b".repeat(64) });
    expect(await otherModel.cache.lookup({ tenant, identity, grid })).toBeNull();
    expect((await otherModel.cache.getOrCompute({ tenant, identity, grid }, otherModel.compute)).source).toBe(
      "computed",
    );
    expect(await b.cache.lookup({ tenant, identity, grid })).not.toBeNull();
  });

  it("neither reads nor writes when the request switches L1 off", async () => {
    const identity = freshIdentity();
    const a = await openCache();
    const off = await a.cache.getOrCompute({ tenant, identity, grid }, a.compute, { useCache: false });
    expect(off.source).toBe("computed");
    expect(await redis.client().exists(l1FeaturesKey(tenant, fingerprint, identity))).toBe(0);
    expect(await a.cache.lookup({ tenant, identity, grid })).toBeNull();
  });

  it("precomputes in the background: encoding → ready with its time, and a request meanwhile joins that encode", async () => {
    const identity = freshIdentity();
    const a = await openCache();
    // The encode waits for the test, so "encoding" is observable however fast the tiny encoder is.
    const encode = gate();
    a.cache.precompute({ tenant, identity, grid }, () => encode.wait.then(a.compute));
    expect((await a.cache.precomputeState({ tenant, identity, grid })).status).toBe("encoding");
    // Another process sees the encode lock.
    const b = await openCache();
    await expect
      .poll(async () => (await b.cache.precomputeState({ tenant, identity, grid })).status, {
        interval: 5,
        timeout: 2000,
      })
      .toBe("encoding");
    const request = a.cache.getOrCompute({ tenant, identity, grid }, a.compute);
    encode.open();
    const answer = await request;
    expect(answer.source).toBe("precomputed");
    expect(a.counter.runs).toBe(1);
    const state = await a.cache.precomputeState({ tenant, identity, grid });
    expect(state.status).toBe("ready");
    expect(state.status === "ready" && state.encodingMs !== null && state.encodingMs > 0).toBe(true);
    expect((await a.cache.getOrCompute({ tenant, identity, grid }, a.compute)).source).toBe("l1");
    expect((await b.cache.getOrCompute({ tenant, identity, grid }, b.compute)).source).toBe("l1");
    expect(b.counter.runs).toBe(0);
  });

  it("stays within its memory budget", async () => {
    const [sample] = await engine.encodeImages(pixelValues, [grid]);
    const perEntry = sample.features.byteLength + sample.deepstack!.byteLength + 256;
    const budget = perEntry * 3 + 10;
    const a = await openCache({ memoryBytes: budget });
    for (let i = 0; i < 8; i++) {
      await a.cache.getOrCompute({ tenant, identity: freshIdentity(), grid }, a.compute);
      expect(a.cache.memoryBytes).toBeLessThanOrEqual(budget);
    }
    expect(a.cache.memoryBytes).toBe(perEntry * 3);
  });

  it("writes what it serves from process memory back to a restarted, empty Redis, so another process finds it", async () => {
    const identity = freshIdentity();
    const key = l1FeaturesKey(tenant, fingerprint, identity);
    const a = await openCache();
    const computed = await a.cache.getOrCompute({ tenant, identity, grid }, a.compute);
    await restartRedis();
    const raw = redis.client();
    expect(await raw.exists(key)).toBe(0);

    const served = await a.cache.getOrCompute({ tenant, identity, grid }, a.compute);
    expect(served.source).toBe("l1");
    await settled(a.cache);
    expect(await raw.exists(key)).toBe(1);
    expect(await raw.ttl(key)).toBeGreaterThan(DEFAULT_L1_TTL_SECONDS - 60);
    expect(await raw.ttl(key)).toBeLessThanOrEqual(DEFAULT_L1_TTL_SECONDS);

    const b = await openCache();
    const shared = await b.cache.getOrCompute({ tenant, identity, grid }, b.compute);
    expect(shared.source).toBe("l1");
    expect(a.counter.runs + b.counter.runs).toBe(1);
    sameFeatures(shared.features, computed.features);

    // Once per generation: a later hit in the same one does not write again.
    await raw.del(key);
    expect((await a.cache.getOrCompute({ tenant, identity, grid }, a.compute)).source).toBe("l1");
    await settled(a.cache);
    expect(await raw.exists(key)).toBe(0);
  });

  it("falls back to process memory while Redis is down and uses Redis again once it is back", async () => {
    const identity = freshIdentity();
    const log = capturingLogger();
    const a = await openCache({ logger: log.logger });
    const fallbacksBefore = await metricValue("vlcache_cache_store_fallbacks_total", { level: "l1" });
    await redis.stop();
    try {
      const during = await a.cache.getOrCompute({ tenant, identity, grid }, a.compute);
      expect(during.source).toBe("computed");
      expect((await a.cache.getOrCompute({ tenant, identity, grid }, a.compute)).source).toBe("l1");
      expect(a.counter.runs).toBe(1);
      expect(await metricValue("vlcache_cache_store_fallbacks_total", { level: "l1" })).toBeGreaterThan(
        fallbacksBefore,
      );
    } finally {
      await restartRedis();
    }
    const after = freshIdentity();
    await a.cache.getOrCompute({ tenant, identity: after, grid }, a.compute);
    // What was computed during the outage reaches Redis with its next hit.
    expect((await a.cache.getOrCompute({ tenant, identity, grid }, a.compute)).source).toBe("l1");
    await settled(a.cache);
    const b = await openCache();
    expect((await b.cache.getOrCompute({ tenant, identity: after, grid }, b.compute)).source).toBe("l1");
    expect((await b.cache.getOrCompute({ tenant, identity, grid }, b.compute)).source).toBe("l1");
    expect(b.counter.runs).toBe(0);
    expect(a.counter.runs).toBe(2);
    // One warning when the outage was first noticed, one line when the store was back.
    const messages = log.messages();
    expect(messages.filter((m) => m.msg.includes("unreachable")).map((m) => m.level)).toEqual([40]);
    expect(messages.filter((m) => m.msg.includes("reachable again")).map((m) => m.level)).toEqual([30]);
  });
});
