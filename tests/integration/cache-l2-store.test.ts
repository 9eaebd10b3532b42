import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { l2BlockKey, l2Namespace } from "@/lib/cache/keys";
import { DEFAULT_KV_BLOCK_TOKENS, kvBlockHashes } from "@/lib/cache/kvBlockChain";
import { RedisBlobStore, createRedisClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import { loadConfig, type CacheSettings } from "@/lib/config";
import { parseTenantId, type ImageId, type TenantId } from "@/lib/ids";
import { planGeneration } from "@/lib/inference/generationPlan";
import { storedImages } from "@/lib/inference/imageSource";
import { parseGenerationRequest, type GenerationRequestInput } from "@/lib/inference/request";
import { createModelCaches, type ModelCaches } from "@/lib/inference/modelCaches";
import type { InferencePipeline } from "@/lib/inference/pipeline";
import { createLogger } from "@/lib/log";
import { liveKvBytes } from "@/lib/model/engine/kvCache";
import { storeImage } from "@/lib/server/images";
import { ask, playChat, userMessage, type PlayedTurn, type ScriptTurn } from "@/tests/support/chatScript";
import { startTestRedis } from "@/tests/support/redisServer";
import { fixtureDir } from "./engineFixtures";
import { MAX_IMAGE_PIXELS, startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * L2's store tier between app replicas: real redis-server, real ORT sessions over a fixture's bundle. Each "replica"
 * is what another app process has — its own connection to the shared Redis and its own caches (an empty memory tier) —
 * over the same loaded model. A chat's first turns run on replica A; its next turn on replica B (and after a restart,
 * on a fresh replica C) reuses the prefix from the store's KV blocks, and every answer is token-identical to the same
 * request with caches off. A block corrupted or cut short in Redis ends the chain there and is replaced; a stalled
 * caches' Redis costs the store's deadline, never the answer.
 */
const MAX_NEW_TOKENS = 12;
const BLOCK = DEFAULT_KV_BLOCK_TOKENS;
const silent = createLogger("silent");
type Messages = GenerationRequestInput["messages"];

interface Replica {
  readonly caches: ModelCaches;
  readonly pipeline: InferencePipeline;
  close(): Promise<void>;
}

describe("L2 store tier across replicas", () => {
  let harness: InferenceHarness;
  let baseline: InferencePipeline;
  let screenshot: ImageId;
  let chart: ImageId;
  const open: Replica[] = [];

  beforeAll(async () => {
    harness = await startInferenceHarness("tiny-deepstack-tied");
    baseline = harness.pipeline();
    screenshot = harness.imageIds["screenshot.png"];
    chart = harness.imageIds["chart.png"];
  });
  afterAll(async () => {
    for (const replica of open) await replica.close();
    await harness?.teardown();
  });

  /** A replica whose caches use the Redis at `cacheRedisUrl` (user data: always the harness's Redis). */
  async function replica(
    store: CacheSettings["l2"]["store"] = "auto",
    cacheRedisUrl = harness.redis.url,
  ): Promise<Replica> {
    const client = createRedisClient(cacheRedisUrl);
    if (!(await waitUntilReady(client, 5_000))) throw new Error("no connection to the test Redis");
    const connection = new RedisBlobStore(client, silent);
    const defaults = loadConfig({}).caches;
    const caches = createModelCaches(harness.model, connection, { ...defaults, l2: { ...defaults.l2, store } }, silent);
    const made = { caches, pipeline: harness.pipeline({ seams: caches.seams }), close: () => connection.close() };
    open.push(made);
    return made;
  }

  const firstTurns = (): ScriptTurn[] => [
    [{ image: screenshot }, "What does this window show?"],
    ["Which button is at the top?"],
    [{ image: chart }, "Compare it with this chart."],
  ];
  const followUp: ScriptTurn = ["Summarise both in one line."];

  /** The follow-up's request after `played` answers to the first turns (the history a chat client sends). */
  const followUpMessages = (played: readonly PlayedTurn[]): Messages => [
    ...firstTurns().flatMap((turn, i) => [userMessage(turn), { role: "assistant" as const, content: played[i].text }]),
    userMessage(followUp),
  ];

  /** Turns 1–3 on a fresh replica A under `tenant`, written through to the store; the caches-off answers of all four. */
  async function chatOnReplicaA(tenant: TenantId, cacheRedisUrl = harness.redis.url) {
    for (const name of ["screenshot.png", "chart.png"]) {
      const bytes = await readFile(path.join(fixtureDir(harness.fixture), "images", name));
      const config = { imageTtlSeconds: 600, maxUploadBytes: 1 << 24, maxImagePixels: MAX_IMAGE_PIXELS };
      const stored = await storeImage(bytes, { store: harness.store, logger: silent, config }, tenant);
      expect(stored.ok && stored.answer.imageId).toBe(harness.imageIds[name]);
    }
    const expected = await playChat(baseline, [...firstTurns(), followUp], { maxNewTokens: MAX_NEW_TOKENS, tenant });
    const a = await replica("auto", cacheRedisUrl);
    const played = await playChat(a.pipeline, firstTurns(), { maxNewTokens: MAX_NEW_TOKENS, tenant });
    expect(played.map((turn) => turn.tokenIds)).toEqual(expected.slice(0, 3).map((turn) => turn.tokenIds));
    await a.caches.prefixStore!.drained();
    expect(a.caches.prefixStore!.stats.blocksWritten).toBeGreaterThanOrEqual(2);
    expect(a.caches.prefixStore!.stats.writeFailures).toBe(0);
    return { expected, played, messages: followUpMessages(played) };
  }

  /** The follow-up on `on`, L3 off (it would answer a repeat without touching L2). */
  const askFollowUp = (on: Replica, messages: Messages, tenant: TenantId) =>
    ask(on.pipeline, messages, { maxNewTokens: MAX_NEW_TOKENS, tenant, cache: { l3: false } });

  it("serves a follow-up on another replica, and after a restart, from the store's blocks: same tokens", async () => {
    const tenant = parseTenantId("replicas")!;
    const { expected, played, messages } = await chatOnReplicaA(tenant);
    const previousPrompt = played[2].meta!.cache.prefix.total;

    const b = await replica();
    const onB = await askFollowUp(b, messages, tenant);
    expect(onB.meta!.cache.prefix.tier).toBe("store");
    // The previous turn's prompt is a prefix of this one: every whole block of it comes from the store.
    expect(onB.meta!.cache.prefix.reused).toBeGreaterThanOrEqual(Math.floor(previousPrompt / BLOCK) * BLOCK);
    expect(onB.meta!.cache.prefix.reused % BLOCK).toBe(0);
    expect(b.caches.prefixStore!.stats.blocksRead).toBe(onB.meta!.cache.prefix.reused / BLOCK);
    expect(onB.tokenIds).toEqual(expected[3].tokenIds);

    // The same replica again: now from its memory tier, at least as far.
    const again = await askFollowUp(b, messages, tenant);
    expect(again.meta!.cache.prefix.tier).toBe("memory");
    expect(again.meta!.cache.prefix.reused).toBeGreaterThanOrEqual(onB.meta!.cache.prefix.reused);
    expect(again.tokenIds).toEqual(expected[3].tokenIds);

    // An app restart: a new connection and empty in-process caches; the store still holds the blocks.
    await b.caches.prefixStore!.drained();
    await b.close();
    const restarted = await replica();
    const afterRestart = await askFollowUp(restarted, messages, tenant);
    expect(afterRestart.meta!.cache.prefix).toMatchObject({ tier: "store", reused: onB.meta!.cache.prefix.reused });
    expect(afterRestart.tokenIds).toEqual(expected[3].tokenIds);
    await restarted.caches.prefixStore!.drained();

    // The same with the tier off (L2_STORE=off): nothing reused on a fresh replica, same tokens.
    const withoutTier = await replica("off");
    expect(withoutTier.caches.prefixStore).toBeNull();
    const recomputed = await askFollowUp(withoutTier, messages, tenant);
    expect(recomputed.meta!.cache.prefix.reused).toBe(0);
    expect(recomputed.meta!.cache.prefix.tier).toBeUndefined();
    expect(recomputed.tokenIds).toEqual(expected[3].tokenIds);
  });

  /** The store keys of the blocks a request's prefix look-up reads, in chain order. */
  async function chainKeys(messages: Messages, tenant: TenantId): Promise<string[]> {
    const plan = await planGeneration(parseGenerationRequest({ messages, tenant }), {
      model: harness.model,
      images: storedImages(harness.store),
      featureStorage: "fp32",
      maxImagePixels: MAX_IMAGE_PIXELS,
      contextTokens: harness.model.maxPositions,
    });
    const namespace = l2Namespace(tenant, harness.model.fingerprint);
    return kvBlockHashes(plan.promptKey.slice(0, -1), BLOCK).map((hash) => l2BlockKey(namespace, hash));
  }

  it("ends the chain at a block corrupted or cut short in Redis, recomputes from there, and replaces it", async () => {
    const tenant = parseTenantId("corrupt-blocks")!;
    const { expected, messages } = await chatOnReplicaA(tenant);
    const redis = harness.redis.client();
    const keys = await chainKeys(messages, tenant);
    expect(keys.length).toBeGreaterThanOrEqual(2);
    const present = await Promise.all(keys.map((key) => redis.exists(key)));
    // The follow-up's last whole block may lie past what turn 3 stored; every earlier one is there.
    const stored = keys.slice(0, present.indexOf(0) === -1 ? keys.length : present.indexOf(0));
    expect(stored.length).toBeGreaterThanOrEqual(2);

    for (const [k, key] of stored.entries()) {
      const original = (await redis.getBuffer(key))!;
      // Even k: one payload byte flipped (corruption); odd k: the last half missing (a partial write).
      const broken = k % 2 === 0 ? Buffer.from(original) : original.subarray(0, original.length / 2);
      if (k % 2 === 0) broken[broken.length - 100] ^= 0x10;
      await redis.set(key, broken, "EX", 600);

      const fresh = await replica();
      const answer = await askFollowUp(fresh, messages, tenant);
      expect(answer.tokenIds).toEqual(expected[3].tokenIds);
      expect(fresh.caches.prefixStore!.stats.blocksRejected).toBe(1);
      // Exactly the k blocks before the broken one were reused.
      expect(answer.meta!.cache.prefix.reused).toBe(k * BLOCK);
      expect(answer.meta!.cache.prefix.tier).toBe(k === 0 ? undefined : "store");
      // The broken block was deleted when read, and written anew from this replica's KV after its answer.
      await fresh.caches.prefixStore!.drained();
      expect((await redis.getBuffer(key))?.length).toBe(original.length);
    }
  });

  it("answers the same when the caches' Redis stalls: reads miss within the deadline, failed writes are counted", async () => {
    const tenant = parseTenantId("stalled-store")!;
    const cacheRedis = await startTestRedis();
    try {
      const { expected, messages } = await chatOnReplicaA(tenant, cacheRedis.url);
      const b = await replica("auto", cacheRedis.url);
      cacheRedis.pause();
      let answer: PlayedTurn;
      try {
        answer = await askFollowUp(b, messages, tenant);
        // Its blocks' writes run (and fail) while Redis is still stalled.
        await b.caches.prefixStore!.drained();
      } finally {
        cacheRedis.resume();
      }
      expect(answer.tokenIds).toEqual(expected[3].tokenIds);
      expect(answer.meta!.cache.prefix.reused).toBe(0);
      expect(b.caches.prefixStore!.stats.writeFailures).toBe(1);
      expect(b.caches.prefixStore!.stats.blocksRead).toBe(0);
    } finally {
      await cacheRedis.teardown();
    }
  });

  it("lets go of every KV reference once the background writes are done", async () => {
    const tenant = parseTenantId("live-kv")!;
    const baselineBytes = liveKvBytes();
    await chatOnReplicaA(tenant);
    expect(liveKvBytes()).toBe(baselineBytes);
  });
});
