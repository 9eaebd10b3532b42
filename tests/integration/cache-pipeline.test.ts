import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { levelPrefix } from "@/lib/cache/keys";
import { loadConfig, type CacheSettings } from "@/lib/config";
import { parseTenantId, type ImageId } from "@/lib/ids";
import { createModelCaches, type ModelCaches } from "@/lib/inference/modelCaches";
import type { InferencePipeline } from "@/lib/inference/pipeline";
import { planImage } from "@/lib/images/preprocess/imageGrid";
import { createLogger } from "@/lib/log";
import { buildMetricsSummary } from "@/lib/metrics/summary";
import { liveKvBytes } from "@/lib/model/engine/kvCache";
import { storeImage } from "@/lib/server/images";
import { ask, playChat, userMessage, type PlayedTurn, type ScriptTurn } from "@/tests/support/chatScript";
import { patternRgb, png, quadrantsRgb } from "@/tests/support/testImages";
import { fixtureDir } from "./engineFixtures";
import { MAX_IMAGE_PIXELS, startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * The three cache levels wired into the real pipeline (real ORT sessions over the fixtures' bundles, real
 * redis-server): answers with every cache on are token-identical to answers with every cache off — over multi-turn,
 * multi-image chats, with budgets small enough to evict constantly, and across a Redis restart — and each level
 * contributes what it should (meta events).
 */
const silentSettings = (
  overrides: Partial<{ [K in keyof CacheSettings]: Partial<CacheSettings[K]> }> = {},
): CacheSettings => {
  const defaults = loadConfig({}).caches;
  return {
    l1: { ...defaults.l1, ...overrides.l1 },
    l2: { ...defaults.l2, ...overrides.l2 },
    l3: { ...defaults.l3, ...overrides.l3 },
  };
};

const MAX_NEW_TOKENS = 12;
const silent = createLogger("silent");
const UPLOAD_CONFIG = { imageTtlSeconds: 600, maxUploadBytes: 1 << 24, maxImagePixels: MAX_IMAGE_PIXELS };

describe.each(["tiny-deepstack-tied", "tiny-plain-untied"])("caches in the pipeline: %s", (fixture) => {
  let harness: InferenceHarness;
  let baseline: InferencePipeline;
  let screenshot: ImageId;
  let chart: ImageId;
  let screenshotBytes: Uint8Array;
  let chartBytes: Uint8Array;

  beforeAll(async () => {
    harness = await startInferenceHarness(fixture);
    baseline = harness.pipeline();
    screenshot = harness.imageIds["screenshot.png"];
    chart = harness.imageIds["chart.png"];
    screenshotBytes = await readFile(path.join(fixtureDir(fixture), "images", "screenshot.png"));
    chartBytes = await readFile(path.join(fixtureDir(fixture), "images", "chart.png"));
  });
  afterAll(() => harness?.teardown());

  const cachedPipeline = (
    settings: CacheSettings = silentSettings(),
  ): { caches: ModelCaches; pipeline: InferencePipeline } => {
    const caches = createModelCaches(harness.model, harness.store, settings);
    return { caches, pipeline: harness.pipeline({ seams: caches.seams }) };
  };

  /** Two chats: a four-turn one with two images, then a new chat on the first image; then the first turn again. */
  const script = (): { chat: ScriptTurn[]; newChat: ScriptTurn[] } => ({
    chat: [
      [{ image: screenshot }, "What does this window show?"],
      ["Which button is at the top?"],
      [{ image: chart }, "Compare it with this chart."],
      ["Summarise both in one line."],
    ],
    newChat: [[{ image: screenshot }, "What colour is the title bar?"]],
  });

  async function playAll(pipeline: InferencePipeline): Promise<PlayedTurn[]> {
    const { chat, newChat } = script();
    const first = await playChat(pipeline, chat, { maxNewTokens: MAX_NEW_TOKENS });
    const second = await playChat(pipeline, newChat, { maxNewTokens: MAX_NEW_TOKENS });
    const repeat = await playChat(pipeline, chat.slice(0, 1), { maxNewTokens: MAX_NEW_TOKENS });
    return [...first, ...second, ...repeat];
  }

  it("answers token-identically with every cache on, and each level contributes", async () => {
    const expected = await playAll(baseline);
    const { pipeline, caches } = cachedPipeline();
    const played = await playAll(pipeline);
    expect(played.map((t) => t.tokenIds)).toEqual(expected.map((t) => t.tokenIds));

    const [cold, followUp, secondImage, lastTurn, newChat, repeat] = played.map((t) => t.meta!.cache);
    expect(cold.features).toEqual([{ imageId: screenshot, source: "computed" }]);
    expect(cold.prefix.reused).toBe(0);
    expect(cold.response).toBe("miss");
    // The follow-up reuses at least the whole previous prompt.
    expect(followUp.prefix.reused).toBeGreaterThanOrEqual(cold.prefix.total);
    expect(followUp.features).toEqual([{ imageId: screenshot, source: "l1" }]);
    expect(secondImage.features).toEqual([
      { imageId: screenshot, source: "l1" },
      { imageId: chart, source: "computed" },
    ]);
    expect(secondImage.prefix.reused).toBeGreaterThanOrEqual(followUp.prefix.total);
    expect(lastTurn.prefix.reused).toBeGreaterThanOrEqual(secondImage.prefix.total);
    // A new chat on the same image: its features from L1, its prefix up to the question from L2.
    expect(newChat.features).toEqual([{ imageId: screenshot, source: "l1" }]);
    expect(newChat.prefix.reused).toBeGreaterThan(harness.reference.image_tokens[0]);
    expect(repeat.response).toBe("hit");
    expect(caches.prefix.lockedBytes).toBe(0);
  });

  it("stays token-identical when tiny budgets evict features and prefixes all the time", async () => {
    const expected = await playAll(baseline);
    const { pipeline, caches } = cachedPipeline(
      silentSettings({ l1: { memoryBytes: 1 }, l2: { budgetBytes: 24 * 1024 }, l3: { memoryBytes: 1 } }),
    );
    const played = await playAll(pipeline);
    expect(played.map((t) => t.tokenIds)).toEqual(expected.map((t) => t.tokenIds));
    expect(caches.prefix.totalBytes).toBeLessThanOrEqual(24 * 1024);
    expect(caches.features.memoryBytes).toBe(0);
  });

  it("honours the per-request switches: a level switched off is neither read nor written", async () => {
    const { pipeline, caches } = cachedPipeline();
    const messages = [userMessage([{ image: chart }, "Switches?"])];
    const off = await ask(pipeline, messages, { cache: { l1: false, l2: false, l3: false } });
    expect(off.meta!.cache).toMatchObject({
      features: [{ imageId: chart, source: "computed" }],
      prefix: { reused: 0 },
      response: "bypass",
    });
    expect(caches.prefix.totalBytes).toBe(0);
    const on = await ask(pipeline, messages);
    expect(on.meta!.cache.response).toBe("miss");
    expect(on.meta!.cache.prefix.reused).toBe(0);
    expect(on.tokenIds).toEqual(off.tokenIds);
    const again = await ask(pipeline, messages, { cache: { l3: false } });
    expect(again.meta!.cache.response).toBe("bypass");
    expect(again.meta!.cache.prefix.reused).toBe(again.meta!.cache.prefix.total - 1);
    expect(again.tokenIds).toEqual(off.tokenIds);
  });

  it("runs no vision encoder for an image wholly inside the reused prefix, even with L1 off", async () => {
    const { pipeline } = cachedPipeline();
    const noL1 = { cache: { l1: false, l3: false } };
    const messages = [userMessage([{ image: chart }, "Prefix only?"])];
    const first = await ask(pipeline, messages, noL1);
    const encoderRuns = async () => (await buildMetricsSummary({ startedAt: new Date(0) })).visionEncoderRuns;

    const followUpMessages = [
      ...messages,
      { role: "assistant" as const, content: first.text },
      userMessage(["And then?"]),
    ];
    const runsBefore = await encoderRuns();
    const followUp = await ask(pipeline, followUpMessages, noL1);
    expect((await encoderRuns()) - runsBefore).toBe(0);
    expect(followUp.meta!.cache.features).toEqual([]);
    expect(followUp.meta!.cache.prefix.reused).toBeGreaterThanOrEqual(first.meta!.cache.prefix.total);
    expect(followUp.done.timings.visionMs).toBe(0);
    expect(followUp.tokenIds).toEqual((await ask(baseline, followUpMessages)).tokenIds);
  });

  it("never lets two different images of the same size share KV", async () => {
    const size = { width: 96, height: 64 };
    const store = async (bytes: Buffer) => {
      const stored = await storeImage(bytes, { store: harness.store, logger: silent, config: UPLOAD_CONFIG });
      if (!stored.ok) throw new Error(stored.error.message);
      return stored.answer.imageId;
    };
    const first = await store(await png(patternRgb(size.width, size.height)));
    const second = await store(
      await png(
        quadrantsRgb(size.width, size.height, [
          [255, 0, 0],
          [0, 255, 0],
          [0, 0, 255],
          [255, 255, 0],
        ]),
      ),
    );
    const { pipeline } = cachedPipeline();
    const question = "Describe the picture.";
    await ask(pipeline, [userMessage([{ image: first }, question])]);
    const other = await ask(pipeline, [userMessage([{ image: second }, question])]);
    const grid = planImage(size.width, size.height, harness.model.preprocessor).grid;
    const prompt = harness.model.prompts.build(
      [{ role: "user", content: [{ type: "image" }, { type: "text", text: question }] }],
      [grid],
      {
        addGenerationPrompt: true,
      },
    );
    // Everything up to the first image token is shared; not one image token is.
    expect(other.meta!.cache.prefix.reused).toBe(prompt.imageSpans[0].start);
    const expected = await ask(baseline, [userMessage([{ image: second }, question])]);
    expect(other.tokenIds).toEqual(expected.tokenIds);
  });

  it("keeps answering through a Redis outage and picks Redis up again after its restart", async () => {
    // Images sent as bytes: while Redis is down there is no stored image to name.
    const chat: ScriptTurn[] = [
      [{ bytes: screenshotBytes }, "Outage: what is this?"],
      ["And below it?"],
      [{ bytes: chartBytes }, "And this chart?"],
    ];
    const expected = await playChat(baseline, chat, { maxNewTokens: MAX_NEW_TOKENS });
    const { pipeline } = cachedPipeline();
    const before = await playChat(pipeline, chat.slice(0, 1), { maxNewTokens: MAX_NEW_TOKENS });
    await harness.redis.stop();
    let during: PlayedTurn[];
    try {
      during = await playChat(pipeline, chat, { maxNewTokens: MAX_NEW_TOKENS });
    } finally {
      await harness.redis.restart();
    }
    await expect.poll(() => harness.store.isHealthy(), { interval: 50, timeout: 10_000 }).toBe(true);
    // The restarted redis-server has no persistence: upload the fixture images again for the tests that follow.
    for (const bytes of [screenshotBytes, chartBytes])
      await storeImage(Buffer.from(bytes), { store: harness.store, logger: silent, config: UPLOAD_CONFIG });
    const after = await playChat(pipeline, chat, { maxNewTokens: MAX_NEW_TOKENS });
    expect(before[0].tokenIds).toEqual(expected[0].tokenIds);
    expect(during.map((t) => t.tokenIds)).toEqual(expected.map((t) => t.tokenIds));
    expect(after.map((t) => t.tokenIds)).toEqual(expected.map((t) => t.tokenIds));
    // During the outage the features came from process memory and the repeated first turn from L3's memory layer.
    expect(during[0].meta!.cache.response).toBe("hit");
    expect(during[2].meta!.cache.features.map((f) => f.source)).toEqual(["l1", "computed"]);
    // Redis came back empty; the answers given since are stored there again.
    const l3Keys = await harness.redis.client().keys(`${levelPrefix(parseTenantId("public")!, "l3")}*`);
    expect(l3Keys.length).toBeGreaterThanOrEqual(chat.length);
  });

  it("keeps tenants apart at every level", async () => {
    const { pipeline } = cachedPipeline();
    // Images belong to a tenant too: each uploads its own copy (the same pixels, so the same id).
    for (const tenant of ["team-a", "team-b"]) {
      await storeImage(
        Buffer.from(screenshotBytes),
        { store: harness.store, logger: silent, config: UPLOAD_CONFIG },
        parseTenantId(tenant)!,
      );
    }
    const messages = [userMessage([{ image: screenshot }, "Tenant check."])];
    await ask(pipeline, messages, { tenant: parseTenantId("team-a")! });
    const again = await ask(pipeline, messages, { tenant: parseTenantId("team-a")! });
    expect(again.meta!.cache.response).toBe("hit");
    const other = await ask(pipeline, messages, { tenant: parseTenantId("team-b")! });
    expect(other.meta!.cache).toEqual({
      features: [{ imageId: screenshot, source: "computed" }],
      prefix: { reused: 0, total: other.meta!.cache.prefix.total },
      response: "miss",
    });
    expect(other.tokenIds).toEqual(again.tokenIds);
  });

  it("counts what each level did in the metrics summary", async () => {
    const { pipeline } = cachedPipeline();
    // A tenant of its own: whatever earlier tests left in Redis, its first look-up at each level is a miss.
    const options = { tenant: parseTenantId("metrics")! };
    const messages = [userMessage([{ bytes: chartBytes }, "Metrics?"])];
    const before = await buildMetricsSummary({ startedAt: new Date(0) });
    const first = await ask(pipeline, messages, options);
    const followUp = await ask(
      pipeline,
      [...messages, { role: "assistant", content: first.text }, userMessage(["And then?"])],
      options,
    );
    await ask(pipeline, messages, options);
    const after = await buildMetricsSummary({ startedAt: new Date(0) });
    const delta = (pick: (s: typeof after) => number) => pick(after) - pick(before);
    // First: L1 miss (computed), L2 miss, L3 miss. Follow-up: L1 hit, L2 hit, L3 miss. Repeat: L3 hit only.
    expect([delta((s) => s.levels.l1.hits), delta((s) => s.levels.l1.misses)]).toEqual([1, 1]);
    expect([delta((s) => s.levels.l2.hits), delta((s) => s.levels.l2.misses)]).toEqual([1, 1]);
    expect([delta((s) => s.levels.l3.hits), delta((s) => s.levels.l3.misses)]).toEqual([1, 2]);
    expect(delta((s) => s.prefixTokensReused)).toBe(followUp.meta!.cache.prefix.reused);
    expect(delta((s) => s.visionEncoderRunsSaved)).toBe(1);
    const total = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
    expect(total(after.ttft.hit) - total(before.ttft.hit)).toBe(2);
    expect(total(after.ttft.miss) - total(before.ttft.miss)).toBe(1);
    expect(after.levels.l2.bytes).toBeGreaterThan(0);
  });

  it("keeps live KV at its baseline after every request (the prefix cache holds its own copies)", async () => {
    const baselineBytes = liveKvBytes();
    const { pipeline, caches } = cachedPipeline();
    await playChat(pipeline, script().chat, { maxNewTokens: MAX_NEW_TOKENS });
    // L2's store tier holds a turn's KV until its background write has sent the blocks.
    await caches.prefixStore?.drained();
    expect(liveKvBytes()).toBe(baselineBytes);
    expect(caches.prefix.totalBytes).toBeGreaterThan(0);
  });
});
