import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FLUSH_CHANNEL, flushCaches } from "@/lib/cache/flush";
import { CACHE_LEVELS } from "@/lib/api/types";
import { RedisBlobStore, createRedisClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import { loadConfig } from "@/lib/config";
import { parseTenantId, type ImageId, type TenantId } from "@/lib/ids";
import { createModelCaches, type ModelCaches } from "@/lib/inference/modelCaches";
import type { InferencePipeline } from "@/lib/inference/pipeline";
import { createLogger } from "@/lib/log";
import { ask, userMessage } from "@/tests/support/chatScript";
import { fixtureDir } from "./engineFixtures";
import { startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * The admin flush across replicas: two sets of model caches ("replicas"), each over its own connections to one real
 * redis-server, as two app processes would be. A flush through one replica reaches the other's in-process levels (L1
 * LRU, L2 prefix tree, L3 memory layer) through the flush notice, for the flushed tenant only.
 */
const silent = createLogger("silent");
const teamA = parseTenantId("team-a") as TenantId;
const teamB = parseTenantId("team-b") as TenantId;

let harness: InferenceHarness;
let screenshot: ImageId;
let screenshotBytes: Buffer;
let inspect: Redis;
const stores: RedisBlobStore[] = [];

beforeAll(async () => {
  harness = await startInferenceHarness("tiny-deepstack-tied");
  inspect = harness.redis.client();
  screenshot = harness.imageIds["screenshot.png"];
  screenshotBytes = await readFile(path.join(fixtureDir("tiny-deepstack-tied"), "images", "screenshot.png"));
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await harness?.teardown();
});

interface Replica {
  readonly store: RedisBlobStore;
  readonly caches: ModelCaches;
  readonly pipeline: InferencePipeline;
}

async function openReplica(): Promise<Replica> {
  const client = createRedisClient(harness.redis.url);
  expect(await waitUntilReady(client, 5_000)).toBe(true);
  const store = new RedisBlobStore(client, silent);
  stores.push(store);
  const caches = createModelCaches(harness.model, store, loadConfig({}).caches, silent);
  return { store, caches, pipeline: harness.pipeline({ seams: caches.seams }) };
}

/** Replicas listening for flush notices right now (each store subscribes once, however many caches it serves). */
async function followers(): Promise<number> {
  const [, count] = (await inspect.pubsub("NUMSUB", FLUSH_CHANNEL)) as [string, number];
  return count;
}

/** What a replica holds in process: L1 and L3 memory layer bytes, L2 tree bytes. */
function held(replica: Replica): { l1: number; l2: number; l3: number } {
  return {
    l1: replica.caches.features.memoryBytes,
    l2: replica.caches.prefix.totalBytes,
    l3: replica.caches.responses.memoryBytes,
  };
}

const question = (text: string) => [userMessage([{ bytes: screenshotBytes }, text])];

describe("admin flush across replicas", () => {
  it("empties the flushed tenant's in-process levels in every replica and leaves other tenants alone", async () => {
    const a = await openReplica();
    const b = await openReplica();
    await expect.poll(followers).toBe(2);

    // B answers both tenants: its process now holds each one's features, prefix KV and answer.
    const asked = question("What survives a flush?");
    const first = await ask(b.pipeline, asked, { tenant: teamA });
    const ofTeamA = held(b);
    await ask(b.pipeline, asked, { tenant: teamB });
    const ofBoth = held(b);
    for (const level of CACHE_LEVELS) {
      expect(ofTeamA[level]).toBeGreaterThan(0);
      expect(ofBoth[level]).toBeGreaterThan(ofTeamA[level]);
    }

    // A, which holds nothing of its own, flushes team A: one feature record and one answer leave Redis.
    const report = await flushCaches({ store: a.store, levels: a.caches }, teamA, CACHE_LEVELS);
    expect(report).toEqual({
      l1: { storeEntries: 1, inProcess: 0 },
      l2: { storeEntries: 0, inProcess: 0 },
      l3: { storeEntries: 1, inProcess: 0 },
    });
    await expect
      .poll(() => held(b))
      .toEqual({ l1: ofBoth.l1 - ofTeamA.l1, l2: ofBoth.l2 - ofTeamA.l2, l3: ofBoth.l3 - ofTeamA.l3 });

    // With Redis down only B's process memory could answer: team A's entries are gone there, team B's are not.
    await harness.redis.stop();
    try {
      await expect.poll(() => b.store.isHealthy()).toBe(false);
      const again = await ask(b.pipeline, asked, { tenant: teamA });
      expect(again.meta!.cache).toMatchObject({
        features: [{ imageId: screenshot, source: "computed" }],
        prefix: { reused: 0 },
        response: "miss",
      });
      expect(again.tokenIds).toEqual(first.tokenIds);
      expect((await ask(b.pipeline, asked, { tenant: teamB })).meta!.cache.response).toBe("hit");
      const followUp = await ask(b.pipeline, question("And the other tenant?"), { tenant: teamB });
      expect(followUp.meta!.cache.features).toEqual([{ imageId: screenshot, source: "l1" }]);
      expect(followUp.meta!.cache.prefix.reused).toBeGreaterThan(0);
    } finally {
      await harness.redis.restart();
    }
    await expect.poll(() => stores.every((store) => store.isHealthy()), { interval: 50, timeout: 10_000 }).toBe(true);
  });

  it("reaches the replicas' caches also from a process that serves no model", async () => {
    const listening = await followers();
    const b = await openReplica();
    await expect.poll(followers).toBe(listening + 1);
    await ask(b.pipeline, question("Flushed from elsewhere?"), { tenant: teamB });
    expect(held(b).l1).toBeGreaterThan(0);
    const client = createRedisClient(harness.redis.url);
    expect(await waitUntilReady(client, 5_000)).toBe(true);
    const bare = new RedisBlobStore(client, silent);
    stores.push(bare);

    await flushCaches({ store: bare, levels: null }, teamB, ["l1"]);
    await expect.poll(() => held(b).l1).toBe(0);
    expect(held(b).l3).toBeGreaterThan(0);
  });

  it("reports a flush the store could not do as a failure, not as zero entries removed", async () => {
    const untouched = parseTenantId("flush-outage") as TenantId;
    const replica = await openReplica();
    harness.redis.pause();
    try {
      await expect(
        flushCaches({ store: replica.store, levels: replica.caches }, untouched, CACHE_LEVELS),
      ).rejects.toMatchObject({ name: "StoreUnavailableError" });
    } finally {
      harness.redis.resume();
    }
    await expect.poll(() => replica.store.isHealthy(), { timeout: 5_000, interval: 50 }).toBe(true);
    expect(await flushCaches({ store: replica.store, levels: replica.caches }, untouched, ["l1"])).toEqual({
      l1: { storeEntries: 0, inProcess: 0 },
    });
  });
});
