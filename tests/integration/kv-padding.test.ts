import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecodeLoop } from "@/lib/model/engine/decodeLoop";
import { argmax, type StepResult } from "@/lib/model/engine/decoderSteps";
import { Engine } from "@/lib/model/engine/engine";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import { kvCacheBytes, kvCapacity, liveKvBytes, releaseKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import { kvOpsPadding, paddedCapacity, type KvPadding } from "@/lib/model/engine/kvPadding";
import type { PreparedPrompt } from "@/lib/model/engine/decoderSteps";
import { loadConfig } from "@/lib/config";
import { createModelCaches } from "@/lib/inference/modelCaches";
import { createLogger } from "@/lib/log";
import { fixtureBundle, fixtureGrids, fixturePixelValues, readReference } from "./engineFixtures";
import { collect, startInferenceHarness } from "./inference-support";

/**
 * Capacity-padded KV (kvPadding.ts) on real ORT CPU sessions over real bundles: the CPU provider's
 * GroupQueryAttention implements the contract the WebGPU one does (the past's length is a capacity; seqlens_k and
 * total_sequence_length, from attention_mask, say what is valid), so this holds the graph and the feeds to it. A padded
 * decode must give exactly today's logits, tokens and (trimmed) KV, and keep the live-KV accounting exact.
 */
const STEPS = 8;

interface Run {
  readonly tokens: number[];
  readonly logits: Float32Array[];
  /** Capacity of the cache each step ran on. */
  readonly capacities: number[];
  readonly kv: KvCache;
}

function kvData(kv: KvCache): Float32Array[] {
  return kv.layers.flatMap((l) => [l.key.data as Float32Array, l.value.data as Float32Array]);
}

describe.each(["tiny-deepstack-tied", "tiny-plain-untied"])("padded KV decoding, %s", (name) => {
  let engine: Engine;
  let prompt: PreparedPrompt;
  let images: ImageFeatures[];

  beforeAll(async () => {
    const reference = readReference(name);
    engine = await Engine.load(await fixtureBundle(name), { executionProvider: "cpu", intraOpNumThreads: 1 });
    images = await engine.encodeImages(fixturePixelValues(name, reference), fixtureGrids(reference));
    prompt = engine.prepare(reference.turn1.input_ids, fixtureGrids(reference));
  });
  afterAll(() => engine?.release());

  /** Greedy decoding of STEPS tokens through a loop with `padding`; the capacities seen by each step. */
  async function decode(padding: KvPadding | null): Promise<Run> {
    const capacities: number[] = [];
    const stepper = {
      decodeStep: (token: number, past: KvCache, ropeDelta: number): Promise<StepResult> => {
        capacities.push(kvCapacity(past));
        return engine.decodeStep(token, past, ropeDelta);
      },
    };
    const loop = new DecodeLoop(stepper, prompt.positions.ropeDelta, await engine.prefill(prompt, images), padding);
    try {
      const tokens: number[] = [];
      const logits: Float32Array[] = [loop.logits];
      for (let i = 0; i < STEPS; i++) {
        tokens.push(argmax(loop.logits));
        await loop.feed(tokens[i]);
        logits.push(loop.logits);
        expect(loop.length).toBe(prompt.inputIds.length + i + 1);
      }
      return { tokens, logits, capacities, kv: await loop.takeKv() };
    } finally {
      loop.release();
    }
  }

  it("gives the logits, tokens and KV of exact decoding, re-padding each time a capacity is used up", async () => {
    const before = liveKvBytes();
    const exact = await decode(null);
    // A capacity 3 positions ahead: the run crosses several re-pads (at the first step, then every third).
    const padding = { ...kvOpsPadding(engine.kvOps), capacityFor: (length: number) => length + 3 };
    const padded = await decode(padding);
    const n = prompt.inputIds.length;
    expect(exact.capacities).toEqual(Array.from({ length: STEPS }, (_, i) => n + i));
    expect(padded.capacities).toEqual([n + 3, n + 3, n + 3, n + 6, n + 6, n + 6, n + 9, n + 9]);
    expect(padded.tokens).toEqual(exact.tokens);
    // Bit-identical: the kernel reads the same valid positions in the same order, only their stride differs.
    padded.logits.forEach((logits, i) => expect(logits).toEqual(exact.logits[i]));
    // What leaves the loop is exact, and equal to the unpadded cache.
    expect(padded.kv.length).toBe(n + STEPS);
    expect(kvCapacity(padded.kv)).toBe(n + STEPS);
    expect(kvData(padded.kv)).toEqual(kvData(exact.kv));
    expect(liveKvBytes() - before).toBe(2 * kvCacheBytes(exact.kv));
    releaseKvCache(exact.kv);
    releaseKvCache(padded.kv);
    expect(liveKvBytes()).toBe(before);
  });

  it("counts a padded cache at its capacity while the loop holds it, and releases it on failure", async () => {
    const before = liveKvBytes();
    const first = await engine.prefill(prompt, images);
    const perPosition = kvCacheBytes(first.kv) / first.kv.length;
    const loop = new DecodeLoop(engine, prompt.positions.ropeDelta, first, kvOpsPadding(engine.kvOps));
    try {
      await loop.feed(argmax(loop.logits));
      // One cache live, at the capacity the engine's policy gives (a power of two, at least 256).
      expect(liveKvBytes() - before).toBe(perPosition * paddedCapacity(prompt.inputIds.length));
      await expect(loop.feed(engine.config.text.vocabSize)).rejects.toMatchObject({ code: "bad_input_ids" });
      expect(liveKvBytes()).toBe(before);
    } finally {
      loop.release();
    }
  });
});

describe("paddedCapacity", () => {
  it("gives the smallest power of two of at least 256 above the position to write", () => {
    expect([0, 255, 256, 800, 1023, 1024, 4000].map(paddedCapacity)).toEqual([256, 256, 512, 1024, 1024, 2048, 4096]);
  });
});

describe("Engine's choice", () => {
  it("pads decode loops when asked, and not for host KV by default, even under the simple buffer cache", async () => {
    const dir = await fixtureBundle("tiny-plain-untied");
    /** Live KV bytes per prompt position while a loop holds its first decoded step. */
    const heldPerPosition = async (kvPadding: boolean | undefined) => {
      const engine = await Engine.load(dir, {
        executionProvider: "cpu",
        intraOpNumThreads: 1,
        webgpuBufferCache: "simple",
        ...(kvPadding !== undefined && { kvPadding }),
      });
      const before = liveKvBytes();
      try {
        const prompt = engine.prepare([1, 2, 3, 4]);
        const first = await engine.prefill(prompt, []);
        const perPosition = kvCacheBytes(first.kv) / first.kv.length;
        const loop = engine.decodeLoop(prompt, first);
        try {
          await loop.feed(argmax(loop.logits));
          return (liveKvBytes() - before) / perPosition;
        } finally {
          loop.release();
        }
      } finally {
        await engine.release();
      }
    };
    expect(await heldPerPosition(undefined)).toBe(5);
    expect(await heldPerPosition(true)).toBe(256);
  });
});

describe("padded KV in the pipeline, with L2", () => {
  it("gives the fixture's greedy tokens and stores exact KV that later turns resume from", async () => {
    const h = await startInferenceHarness("tiny-deepstack-tied", { kvPadding: true });
    try {
      const caches = createModelCaches(h.model, h.store, loadConfig({}).caches, createLogger("silent"));
      const pipeline = h.pipeline({ seams: caches.seams });
      const baseline = liveKvBytes();
      const ask = (turn: typeof h.reference.turn1) =>
        collect(pipeline.generate({ messages: h.messages(turn), maxNewTokens: 24, cache: { l3: false } }));
      const turn1 = await ask(h.reference.turn1);
      expect(turn1.done.tokenIds).toEqual(h.reference.turn1.greedy);
      const again = await ask(h.reference.turn1);
      expect(again.meta?.cache.prefix).toMatchObject({ reused: 73, total: 74 });
      expect(again.done.tokenIds).toEqual(h.reference.turn1.greedy);
      const turn2 = await ask(h.reference.turn2);
      expect(turn2.meta?.cache.prefix.reused).toBeGreaterThanOrEqual(74);
      expect(turn2.done.tokenIds).toEqual(h.reference.turn2.greedy);
      // Nothing padded stays behind: what is live is what L2 holds (exact caches, counted at their length).
      expect(caches.prefix.totalBytes).toBeGreaterThan(0);
      expect(liveKvBytes() - baseline).toBe(caches.prefix.totalBytes);
    } finally {
      await h.teardown();
    }
  });
});
