import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvSegment, type KvArrays } from "@/lib/cache/kvSegment";
import type { KeyToken, PrefixKey } from "@/lib/cache/prefixKey";
import {
  passThroughSeams,
  type CacheSeams,
  type FeatureSeam,
  type PrefixSeam,
  type ResponseRequest,
  type ResponseSeam,
  type SeamContext,
  type StoredAnswer,
} from "@/lib/inference/cacheSeams";
import type { GenerationEvent } from "@/lib/inference/events";
import { GenerationScheduler } from "@/lib/inference/scheduler";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import { liveKvBytes, releaseKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import { collect, startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * The cache seams' contract, exercised with small in-test caches (a Map of features, a list of KV runs cut with the
 * L2 segment code, a Map of answers) over real ORT sessions: whatever a seam serves, the answer must be token-identical
 * to an uncached run, and the pipeline must report where things came from in `meta`.
 */
let h: InferenceHarness;
beforeAll(async () => {
  h = await startInferenceHarness("tiny-deepstack-tied");
});
afterAll(() => h?.teardown());

function featureCache(): FeatureSeam & { contexts: SeamContext[] } {
  const stored = new Map<string, ImageFeatures>();
  const contexts: SeamContext[] = [];
  return {
    contexts,
    storage: "fp32",
    async getFeatures(image, compute, ctx) {
      contexts.push(ctx);
      const hit = ctx.flags.l1 ? stored.get(image.key) : undefined;
      if (hit) return { features: hit, source: "l1" };
      const features = await compute();
      if (ctx.flags.l1) stored.set(image.key, features);
      return { features, source: "computed" };
    },
  };
}

/** Keeps every inserted KV whole (as copied arrays) and serves the longest common prefix with a look-up key. */
function prefixCache(): PrefixSeam & { released: number } {
  const runs: { key: PrefixKey; arrays: KvArrays }[] = [];
  const cache = {
    released: 0,
    async lookup(key: PrefixKey, ctx: SeamContext) {
      if (!ctx.flags.l2) return null;
      let best: { length: number; arrays: KvArrays } | null = null;
      for (const run of runs) {
        let n = 0;
        while (n < key.length && n < run.key.length && run.key[n] === key[n]) n++;
        if (n > 0 && (!best || n > best.length)) best = { length: n, arrays: run.arrays };
      }
      if (!best) return null;
      const segment = KvSegment.slice(best.arrays, 0, best.length);
      const dims = [1, segment.kvHeads, segment.length, segment.headDim];
      const kv: KvCache = {
        length: segment.length,
        layers: segment.layers.map((l) => ({
          key: new ort.Tensor("float32", l.key, dims),
          value: new ort.Tensor("float32", l.value, dims),
        })),
      };
      return { kv, length: kv.length, tier: "memory" as const, release: () => cache.released++ };
    },
    insert(key: PrefixKey, kv: KvCache) {
      const [, kvHeads, length, headDim] = kv.layers[0].key.dims;
      const copy = (t: ort.Tensor) => Float32Array.from(t.data as Float32Array);
      runs.push({
        key: [...key],
        arrays: {
          kvHeads,
          headDim,
          length,
          layers: kv.layers.map((l) => ({ key: copy(l.key), value: copy(l.value) })),
        },
      });
      releaseKvCache(kv);
    },
  };
  return cache;
}

function answerCache(): ResponseSeam & { lookups: number; stored: Map<string, StoredAnswer> } {
  const stored = new Map<string, StoredAnswer>();
  const identity = (request: ResponseRequest) =>
    JSON.stringify({ key: request.promptKey as KeyToken[], params: request.params });
  const cache = {
    stored,
    lookups: 0,
    async lookup(request: ResponseRequest, ctx: SeamContext) {
      cache.lookups++;
      if (!ctx.flags.l3) return { result: "bypass" as const };
      const answer = stored.get(identity(request));
      return answer ? { result: "hit" as const, answer } : { result: "miss" as const };
    },
    async store(request: ResponseRequest, answer: StoredAnswer, ctx: SeamContext) {
      if (ctx.flags.l3) stored.set(identity(request), answer);
    },
  };
  return cache;
}

const tokensOf = (events: GenerationEvent[]) => events.flatMap((e) => (e.type === "token" ? [e.text] : []));

describe("features seam (a)", () => {
  it("serves cached features as `l1`, once per distinct image, with the same answer; honours the l1 switch", async () => {
    const features = featureCache();
    const pipeline = h.pipeline({ seams: { ...passThroughSeams, features } });
    const turn = h.reference.turn1;
    const first = await collect(pipeline.generate({ messages: h.messages(turn), maxNewTokens: 24 }));
    const second = await collect(pipeline.generate({ messages: h.messages(turn), maxNewTokens: 24 }));
    const ids = h.reference.images_in_order.map((name) => h.imageIds[name]);
    expect(first.meta?.cache.features).toEqual(ids.map((imageId) => ({ imageId, source: "computed" })));
    expect(second.meta?.cache.features).toEqual(ids.map((imageId) => ({ imageId, source: "l1" })));
    expect([first.done.tokenIds, second.done.tokenIds]).toEqual([turn.greedy, turn.greedy]);
    expect(second.done.timings.visionMs).toBe(0);

    const off = await collect(pipeline.generate({ messages: h.messages(turn), maxNewTokens: 4, cache: { l1: false } }));
    expect(off.meta?.cache.features.map((f) => f.source)).toEqual(["computed", "computed"]);
    expect(features.contexts.at(-1)?.flags).toEqual({ l1: false, l2: true, l3: true });
    expect(features.contexts.at(-1)?.model).toBe(h.model.fingerprint);

    // The same image twice in one prompt is fetched once.
    const twice = h
      .messages(turn)
      .map((m) => (typeof m.content === "string" ? m : { ...m, content: [m.content[0], ...m.content] }));
    const repeated = await collect(pipeline.generate({ messages: twice, maxNewTokens: 2 }));
    expect(repeated.meta?.cache.features).toEqual(ids.map((imageId) => ({ imageId, source: "l1" })));
  });
});

describe("prefix seam (b)", () => {
  it("prefills only after a reused prefix and still gives the fixture's greedy tokens (turn1, then turn2 on top)", async () => {
    const prefix = prefixCache();
    const pipeline = h.pipeline({ seams: { ...passThroughSeams, prefix } });
    const baseline = liveKvBytes();
    const turn1 = await collect(pipeline.generate({ messages: h.messages(h.reference.turn1), maxNewTokens: 24 }));
    expect(turn1.meta?.cache.prefix).toEqual({ reused: 0, total: 74 });
    expect(turn1.done.tokenIds).toEqual(h.reference.turn1.greedy);

    const again = await collect(pipeline.generate({ messages: h.messages(h.reference.turn1), maxNewTokens: 24 }));
    expect(again.meta?.cache.prefix).toEqual({ reused: 73, total: 74, tier: "memory" });
    expect(again.done.tokenIds).toEqual(h.reference.turn1.greedy);

    const turn2 = await collect(pipeline.generate({ messages: h.messages(h.reference.turn2), maxNewTokens: 24 }));
    expect(turn2.meta?.cache.prefix.reused).toBeGreaterThanOrEqual(74);
    expect(turn2.meta?.cache.prefix.total).toBe(h.reference.turn2.input_ids.length);
    expect(turn2.done.tokenIds).toEqual(h.reference.turn2.greedy);

    expect(prefix.released).toBe(2);
    expect(liveKvBytes()).toBe(baseline);
  });
});

describe("response seam (c)", () => {
  it("replays a stored deterministic answer event for event, without the engine", async () => {
    const responses = answerCache();
    const scheduler = new GenerationScheduler();
    const pipeline = h.pipeline({ seams: { ...passThroughSeams, responses }, scheduler });
    const request = () => ({ messages: h.messages(h.reference.text_only), maxNewTokens: 24, stop: ["Camp"] });
    const first = await collect(pipeline.generate(request()));
    expect(first.meta?.cache.response).toBe("miss");
    expect(first.done.finishReason).toBe("stop");
    expect(responses.stored.size).toBe(1);

    const replayed = await collect(pipeline.generate(request()));
    expect(replayed.meta?.cache).toEqual({ features: [], prefix: { reused: 0, total: 33 }, response: "hit" });
    expect(tokensOf(replayed.events)).toEqual(tokensOf(first.events));
    expect(replayed.text).toBe(first.text);
    expect(replayed.done).toMatchObject({
      finishReason: first.done.finishReason,
      usage: first.done.usage,
      tokenIds: first.done.tokenIds,
    });
    expect(replayed.done.timings.prefillMs).toBe(0);
  });

  it("never consults or fills L3 for a sampled request without a seed; does for a seeded one", async () => {
    const responses = answerCache();
    const pipeline = h.pipeline({ seams: { ...passThroughSeams, responses } as CacheSeams });
    const sampled = { messages: h.messages(h.reference.text_only), maxNewTokens: 6, temperature: 0.8 };
    const unseeded = await collect(pipeline.generate(sampled));
    expect(unseeded.meta?.cache.response).toBe("bypass");
    expect([responses.lookups, responses.stored.size]).toEqual([0, 0]);

    const seeded = await collect(pipeline.generate({ ...sampled, seed: 3 }));
    const hit = await collect(pipeline.generate({ ...sampled, seed: 3 }));
    expect([seeded.meta?.cache.response, hit.meta?.cache.response]).toEqual(["miss", "hit"]);
    expect(hit.done.tokenIds).toEqual(seeded.done.tokenIds);
    expect(hit.done.seed).toBe(3);

    const switchedOff = await collect(pipeline.generate({ ...sampled, seed: 3, cache: { l3: false } }));
    expect(switchedOff.meta?.cache.response).toBe("bypass");
    expect(switchedOff.done.tokenIds).toEqual(seeded.done.tokenIds);
  });
});
