import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "@/lib/model/engine/engine";
import { argmax } from "@/lib/model/engine/decoderSteps";
import { EngineInputError } from "@/lib/model/engine/errors";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import { truncateKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import {
  fixtureBundle,
  fixtureGrids,
  fixturePixelValues,
  maxAbsDiff,
  readReference,
  type Reference,
} from "./engineFixtures";

/**
 * Self-consistency of the engine's steps, independent of PyTorch: a KV-cached decode step equals a full recompute,
 * prefill split anywhere (even inside an image) equals one prefill, and bad input is rejected with typed errors.
 */
const NAME = "tiny-deepstack-tied";
/**
 * Logits of this random-weight model reach about ±24, where one float32 step is 1.9e-6: a split prefill runs its
 * matmuls over other row counts (another blocking, another summation order), so its logits differ by several such
 * steps (1.5e-5 seen on one CPU, 0 on another). 1e-4 is 4e-6 relative; a wrong position, mask or cache row moves
 * logits by far more.
 */
const LOGIT_TOLERANCE = 1e-4;

function kvData(kv: KvCache): Float32Array[] {
  return kv.layers.flatMap((l) => [l.key.data as Float32Array, l.value.data as Float32Array]);
}

describe("engine self-consistency", () => {
  let engine: Engine;
  let reference: Reference;
  let images: ImageFeatures[];

  beforeAll(async () => {
    reference = readReference(NAME);
    engine = await Engine.load(await fixtureBundle(NAME), { executionProvider: "cpu" });
    images = await engine.encodeImages(fixturePixelValues(NAME, reference), fixtureGrids(reference));
  });
  afterAll(async () => {
    await engine?.release();
  });

  it("gives KV-cached decode steps the logits of a full recompute of the same tokens", async () => {
    const grids = fixtureGrids(reference);
    const prompt = engine.prepare(reference.turn1.input_ids, grids);
    let step = await engine.prefill(prompt, images);
    const generated: number[] = [];
    for (let k = 0; k < 5; k++) {
      const token = argmax(step.logits);
      generated.push(token);
      step = await engine.decodeStep(token, step.kv, prompt.positions.ropeDelta);
      // The same sequence as one prompt: its positions continue the text after the images, like decode positions.
      const full = await engine.prefill(engine.prepare([...reference.turn1.input_ids, ...generated], grids), images);
      expect(maxAbsDiff(step.logits, full.logits)).toBeLessThan(LOGIT_TOLERANCE);
      expect(step.kv.length).toBe(full.kv.length);
      kvData(step.kv).forEach((data, i) => expect(maxAbsDiff(data, kvData(full.kv)[i])).toBeLessThan(1e-5));
    }
    expect(generated).toEqual(reference.turn1.greedy.slice(0, 5));
  });

  it("gives the same logits and cache when prefill is split, also inside an image", async () => {
    const grids = fixtureGrids(reference);
    const prompt = engine.prepare(reference.turn1.input_ids, grids);
    const whole = await engine.prefill(prompt, images);
    const firstImageToken = reference.turn1.input_ids.indexOf(engine.config.imageTokenId);
    // Text only | inside image 1 | between the images | inside image 2 | in the question.
    for (const cut of [
      2,
      firstImageToken + 5,
      firstImageToken + 29,
      firstImageToken + 35,
      reference.turn1.input_ids.length - 3,
    ]) {
      const head = await engine.prefill(prompt, images, engine.emptyKv(), cut);
      const tail = await engine.prefill(prompt, images, head.kv);
      expect(maxAbsDiff(tail.logits, whole.logits)).toBeLessThan(LOGIT_TOLERANCE);
      kvData(tail.kv).forEach((data, i) => expect(maxAbsDiff(data, kvData(whole.kv)[i])).toBeLessThan(1e-5));
    }
  });

  it("needs only the features of images that intersect the prefilled range", async () => {
    const grids = fixtureGrids(reference);
    const prompt = engine.prepare(reference.turn2.input_ids, grids);
    const turn1Length = reference.turn1.input_ids.length;
    const head = await engine.prefill(prompt, images, engine.emptyKv(), turn1Length);
    // Both images lie inside the cached head: the rest of turn 2 prefills without any image features.
    const tail = await engine.prefill(prompt, [undefined, undefined], head.kv);
    const whole = await engine.prefill(prompt, images);
    expect(maxAbsDiff(tail.logits, whole.logits)).toBeLessThan(LOGIT_TOLERANCE);
    await expect(engine.prefill(prompt, [images[0], undefined])).rejects.toMatchObject({
      code: "image_tokens_mismatch",
    });
  });

  it("resumes from a longer run's cache truncated to a prefix (the L2 case), needing only later images", async () => {
    const grids = fixtureGrids(reference);
    const turn2 = engine.prepare(reference.turn2.input_ids, grids);
    const whole = await engine.prefill(turn2, images);
    const secondImageToken = turn2.imageOf.indexOf(1);
    // Inside image 2 (needs its features, not image 1's), and in turn 1's question (needs none).
    for (const [cut, supplied] of [
      [secondImageToken + 4, [undefined, images[1]]],
      [reference.turn1.input_ids.length - 5, [undefined, undefined]],
    ] as const) {
      const resumed = await engine.prefill(turn2, supplied, truncateKvCache(whole.kv, cut));
      expect(maxAbsDiff(resumed.logits, whole.logits)).toBeLessThan(LOGIT_TOLERANCE);
      expect(argmax(resumed.logits)).toBe(reference.turn2.greedy[0]);
    }
  });

  it("rejects pixel values that do not fit the grids, prompts whose image tokens do not fit them, and bad ids", async () => {
    const grids = fixtureGrids(reference);
    await expect(engine.encodeImages(new Float32Array(1536 * 3), grids)).rejects.toMatchObject({
      code: "bad_pixel_values",
    });
    expect(() => engine.prepare(reference.text_only.input_ids, grids)).toThrow(EngineInputError);
    const missingOnePad = reference.turn1.input_ids.filter(
      (_, i) => i !== reference.turn1.input_ids.indexOf(engine.config.imageTokenId),
    );
    expect(() => engine.prepare(missingOnePad, grids)).toThrow(
      expect.objectContaining({ code: "image_tokens_mismatch" }),
    );
    expect(() => engine.prepare([1, -2, 3])).toThrow(expect.objectContaining({ code: "bad_input_ids" }));
    expect(() => engine.prepare([engine.config.text.vocabSize])).toThrow(
      expect.objectContaining({ code: "bad_input_ids" }),
    );
    await expect(engine.generate({ inputIds: [1, 2], maxNewTokens: 0 })).rejects.toMatchObject({
      code: "bad_input_ids",
    });
  });

  it("stops at an EOS token and includes it", async () => {
    const eos = reference.text_only.greedy[3];
    const tokens = await engine.generate({
      inputIds: reference.text_only.input_ids,
      maxNewTokens: 24,
      eosTokenIds: [eos],
    });
    expect(tokens).toEqual(reference.text_only.greedy.slice(0, reference.text_only.greedy.indexOf(eos) + 1));
  });
});
