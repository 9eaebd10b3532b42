import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flushCaches } from "@/lib/cache/flush";
import { l1FeaturesKey, levelPrefix } from "@/lib/cache/keys";
import { loadConfig, type CacheSettings } from "@/lib/config";
import { parseTenantId, type ImageId, type TenantId } from "@/lib/ids";
import { loadInferenceModel, type InferenceModel } from "@/lib/inference/inferenceModel";
import { createModelCaches, type ModelCaches } from "@/lib/inference/modelCaches";
import type { InferencePipeline } from "@/lib/inference/pipeline";
import { createLogger } from "@/lib/log";
import { storeImage } from "@/lib/server/images";
import { ask, userMessage } from "@/tests/support/chatScript";
import { fixtureBundle, fixtureDir } from "./engineFixtures";
import { MAX_IMAGE_PIXELS, startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * Scope and control of the cache levels: models and tenants never see each other's entries (two models on one Redis,
 * two tenants in one process), the admin flush removes exactly one tenant's level, L3 serves deterministic requests
 * only and near duplicates only when asked to, and a corrupt L1 entry in Redis is dropped and recomputed.
 */
const silent = createLogger("silent");
const UPLOAD_CONFIG = { imageTtlSeconds: 600, maxUploadBytes: 1 << 24, maxImagePixels: MAX_IMAGE_PIXELS };
const QUESTION = "Which cache level has the most hits?";
const teamA = parseTenantId("team-a") as TenantId;
const teamB = parseTenantId("team-b") as TenantId;

let harness: InferenceHarness;
let screenshot: ImageId;
let screenshotFile: Buffer;

beforeAll(async () => {
  harness = await startInferenceHarness("tiny-deepstack-tied");
  screenshot = harness.imageIds["screenshot.png"];
  screenshotFile = await readFile(path.join(fixtureDir("tiny-deepstack-tied"), "images", "screenshot.png"));
  for (const tenant of [teamA, teamB])
    await storeImage(screenshotFile, { store: harness.store, logger: silent, config: UPLOAD_CONFIG }, tenant);
});
afterAll(() => harness?.teardown());

function settings(l3: Partial<CacheSettings["l3"]> = {}): CacheSettings {
  const defaults = loadConfig({}).caches;
  return { ...defaults, l3: { ...defaults.l3, ...l3 } };
}

function cached(
  model: InferenceModel = harness.model,
  l3: Partial<CacheSettings["l3"]> = {},
): { caches: ModelCaches; pipeline: InferencePipeline } {
  const caches = createModelCaches(model, harness.store, settings(l3), silent);
  return { caches, pipeline: harness.pipeline({ model, seams: caches.seams }) };
}

const question = (text = QUESTION, image: ImageId = screenshot) => [userMessage([{ image }, text])];

describe("cache scope", () => {
  it("never serves one model's features or answers to another model on the same Redis", async () => {
    const other = await loadInferenceModel(await fixtureBundle("tiny-plain-untied"), { executionProvider: "cpu" });
    try {
      expect(other.fingerprint).not.toBe(harness.model.fingerprint);
      // Same image, same preprocessing: only the fingerprint tells the two models' entries apart.
      expect(other.preprocessDigest).toBe(harness.model.preprocessDigest);
      const first = cached();
      await ask(first.pipeline, question());
      expect((await ask(first.pipeline, question())).meta!.cache.response).toBe("hit");

      const second = cached(other);
      const answer = await ask(second.pipeline, question());
      expect(answer.meta!.cache).toMatchObject({
        features: [{ imageId: screenshot, source: "computed" }],
        response: "miss",
      });
      const identity = { imageId: screenshot, preprocess: other.preprocessDigest, storage: "fp32" as const };
      const raw = harness.redis.client();
      const tenant = parseTenantId("public")!;
      expect(await raw.exists(l1FeaturesKey(tenant, harness.model.fingerprint, identity))).toBe(1);
      expect(await raw.exists(l1FeaturesKey(tenant, other.fingerprint, identity))).toBe(1);
    } finally {
      await other.release();
    }
  });

  it("keeps tenants apart, and the admin flush removes one tenant's level and nothing else", async () => {
    const { caches, pipeline } = cached();
    const targets = { store: harness.store, levels: caches };
    for (const tenant of [teamA, teamB]) await ask(pipeline, question("Flush me?"), { tenant });
    const raw = harness.redis.client();
    const keysOf = async (tenant: TenantId, level: "l1" | "l3") =>
      (await raw.keys(`${levelPrefix(tenant, level)}*`)).length;
    expect(await keysOf(teamA, "l1")).toBeGreaterThan(0);
    expect(await keysOf(teamA, "l3")).toBeGreaterThan(0);

    const l3Flush = await flushCaches(targets, teamA, ["l3"]);
    expect(l3Flush.l3!.storeEntries).toBeGreaterThan(0);
    expect(await keysOf(teamA, "l3")).toBe(0);
    expect(await keysOf(teamB, "l3")).toBeGreaterThan(0);
    const afterL3 = await ask(pipeline, question("Flush me?"), { tenant: teamA });
    expect(afterL3.meta!.cache.response).toBe("miss");
    expect((await ask(pipeline, question("Flush me?"), { tenant: teamB })).meta!.cache.response).toBe("hit");

    const l2Flush = await flushCaches(targets, teamA, ["l2"]);
    expect(l2Flush.l2!.inProcess).toBeGreaterThan(0);
    const afterL2 = await ask(pipeline, question("Another question after the flush."), { tenant: teamA });
    expect(afterL2.meta!.cache.prefix.reused).toBe(0);
    const teamBReuse = await ask(pipeline, question("Another question after the flush."), { tenant: teamB });
    expect(teamBReuse.meta!.cache.prefix.reused).toBeGreaterThan(0);

    await flushCaches(targets, teamA, ["l1"]);
    expect(await keysOf(teamA, "l1")).toBe(0);
    expect(await keysOf(teamB, "l1")).toBeGreaterThan(0);
    const afterL1 = await ask(pipeline, question("Third question."), { tenant: teamA, cache: { l2: false } });
    expect(afterL1.meta!.cache.features).toEqual([{ imageId: screenshot, source: "computed" }]);
    const teamBFeatures = await ask(pipeline, question("Third question."), { tenant: teamB, cache: { l2: false } });
    expect(teamBFeatures.meta!.cache.features).toEqual([{ imageId: screenshot, source: "l1" }]);
    expect(afterL1.tokenIds).toEqual(teamBFeatures.tokenIds);
  });
});

describe("L3 answers", () => {
  it("stores only deterministic requests: sampled without a seed bypasses, with a seed replays the same tokens", async () => {
    const { pipeline } = cached();
    const sampled = await ask(pipeline, question("Sampled?"), { temperature: 0.8 });
    expect(sampled.meta!.cache.response).toBe("bypass");
    expect((await ask(pipeline, question("Sampled?"), { temperature: 0.8 })).meta!.cache.response).toBe("bypass");

    const seeded = await ask(pipeline, question("Seeded?"), { temperature: 0.8, seed: 7 });
    expect(seeded.meta!.cache.response).toBe("miss");
    const replay = await ask(pipeline, question("Seeded?"), { temperature: 0.8, seed: 7 });
    expect(replay.meta!.cache.response).toBe("hit");
    expect(replay.tokenIds).toEqual(seeded.tokenIds);
    const otherSeed = await ask(pipeline, question("Seeded?"), { temperature: 0.8, seed: 8 });
    expect(otherSeed.meta!.cache.response).toBe("miss");
  });

  it("matches near duplicates only when enabled, and only with identical images", async () => {
    const original = "What does the settings window say about L2?";
    const paraphrase = "what does the settings window say about L2";
    const off = cached();
    await ask(off.pipeline, question(original));
    expect((await ask(off.pipeline, question(paraphrase))).meta!.cache.response).toBe("miss");

    const on = cached(harness.model, { nearDuplicates: true });
    const stored = await ask(on.pipeline, question(`${original} (near)`));
    const near = await ask(on.pipeline, question(`${paraphrase} near`));
    expect(near.meta!.cache.response).toBe("hit");
    expect(near.tokenIds).toEqual(stored.tokenIds);
    const unrelated = await ask(on.pipeline, question("Translate the chart legend into French, please."));
    expect(unrelated.meta!.cache.response).toBe("miss");
    const otherImage = await ask(on.pipeline, question(`${paraphrase} near`, harness.imageIds["chart.png"]));
    expect(otherImage.meta!.cache.response).toBe("miss");
  });
});

describe("L1 integrity", () => {
  it("drops a corrupt feature record found in Redis, recomputes it, and answers the same", async () => {
    const first = cached();
    const clean = await ask(first.pipeline, question("Corruption?"), { cache: { l2: false, l3: false } });
    const tenant = parseTenantId("public")!;
    const key = l1FeaturesKey(tenant, harness.model.fingerprint, {
      imageId: screenshot,
      preprocess: harness.model.preprocessDigest,
      storage: "fp32",
    });
    const raw = harness.redis.client();
    const record = (await raw.getBuffer(key))!;
    record[record.length - 1] ^= 0x40;
    await raw.set(key, record);

    const second = cached();
    const answer = await ask(second.pipeline, question("Corruption?"), { cache: { l2: false, l3: false } });
    expect(answer.meta!.cache.features).toEqual([{ imageId: screenshot, source: "computed" }]);
    expect(answer.tokenIds).toEqual(clean.tokenIds);
    const healed = (await raw.getBuffer(key))!;
    expect(healed.equals(record)).toBe(false);
    const third = cached();
    expect(
      (await ask(third.pipeline, question("Corruption?"), { cache: { l2: false, l3: false } })).meta!.cache.features[0]
        .source,
    ).toBe("l1");
  });
});
