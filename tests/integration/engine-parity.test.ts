import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "@/lib/model/engine/engine";
import { argmax } from "@/lib/model/engine/decoderSteps";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import { getRopeIndex } from "@/lib/model/positions/mrope";
import {
  fixtureBundle,
  fixtureDir,
  fixtureGrids,
  fixturePixelValues,
  maxAbsDiff,
  readFloatNpy,
  readReference,
  temporaryFixtureBundle,
  type Reference,
} from "./engineFixtures";

/**
 * The engine against PyTorch (transformers 5.17, fp32) on the parity fixtures: first-step logits of turn1 within 1e-3,
 * and the 24 greedy tokens of turn1, turn2 and text_only. Also: the decoder alone, fed the fixture's own vision
 * outputs, so a vision mismatch cannot hide a decoder one (and vice versa).
 */
for (const name of ["tiny-deepstack-tied", "tiny-plain-untied"]) {
  describe(`engine parity: ${name}`, () => {
    let engine: Engine;
    let reference: Reference;

    beforeAll(async () => {
      reference = readReference(name);
      engine = await Engine.load(await fixtureBundle(name), { executionProvider: "cpu" });
    });
    afterAll(async () => {
      await engine?.release();
    });

    const pixelValues = () => fixturePixelValues(name, reference);

    it("computes the fixture's M-RoPE positions and rope deltas", () => {
      for (const turn of [reference.turn1, reference.turn2, reference.text_only]) {
        const grids = turn === reference.text_only ? [] : fixtureGrids(reference);
        const ours = getRopeIndex(turn.input_ids, grids, engine.config, engine.config.vision.spatialMergeSize);
        expect(Array.from(ours.positionIds, Number)).toEqual(turn.position_ids.flat(2));
        expect(ours.ropeDelta).toBe(turn.rope_delta);
      }
    });

    it("matches turn1's first-step logits within 1e-3", async () => {
      const grids = fixtureGrids(reference);
      const images = await engine.encodeImages(pixelValues(), grids);
      const { logits } = await engine.prefill(engine.prepare(reference.turn1.input_ids, grids), images);
      const expected = readFloatNpy(path.join(fixtureDir(name), "turn1_first_logits.npy"));
      expect(maxAbsDiff(logits, expected)).toBeLessThanOrEqual(1e-3);
      expect(argmax(logits)).toBe(reference.turn1.greedy[0]);
    });

    it("matches turn1's first-step logits from the fixture's own vision features (decoder alone)", async () => {
      const grids = fixtureGrids(reference);
      const hidden = engine.config.text.hiddenSize;
      const features = readFloatNpy(path.join(fixtureDir(name), "vision_image_features.npy"));
      const deepstackCount = engine.config.vision.deepstackVisualIndexes.length;
      const deepstackAll =
        deepstackCount > 0 ? readFloatNpy(path.join(fixtureDir(name), "vision_deepstack.npy")) : null;
      const total = features.length / hidden;
      let offset = 0;
      const images: ImageFeatures[] = reference.image_tokens.map((tokens, k) => {
        let deepstack: Float32Array | null = null;
        if (deepstackAll) {
          deepstack = new Float32Array(deepstackCount * tokens * hidden);
          for (let l = 0; l < deepstackCount; l++) {
            deepstack.set(
              deepstackAll.subarray((l * total + offset) * hidden, (l * total + offset + tokens) * hidden),
              l * tokens * hidden,
            );
          }
        }
        const image = {
          grid: grids[k],
          tokens,
          hidden,
          features: features.slice(offset * hidden, (offset + tokens) * hidden),
          deepstack,
        };
        offset += tokens;
        return image;
      });
      const { logits } = await engine.prefill(engine.prepare(reference.turn1.input_ids, grids), images);
      const expected = readFloatNpy(path.join(fixtureDir(name), "turn1_first_logits.npy"));
      expect(maxAbsDiff(logits, expected)).toBeLessThanOrEqual(1e-3);
    });

    it("reproduces the vision tower's features", async () => {
      const images = await engine.encodeImages(pixelValues(), fixtureGrids(reference));
      const expected = readFloatNpy(path.join(fixtureDir(name), "vision_image_features.npy"));
      const ours = new Float32Array(expected.length);
      let offset = 0;
      for (const image of images) {
        ours.set(image.features, offset);
        offset += image.features.length;
      }
      expect(maxAbsDiff(ours, expected)).toBeLessThanOrEqual(1e-4);
    });

    for (const turnName of ["turn1", "turn2", "text_only"] as const) {
      it(`generates ${turnName}'s 24 greedy tokens`, async () => {
        const turn = reference[turnName];
        const withImages = turnName !== "text_only";
        const tokens = await engine.generate({
          inputIds: turn.input_ids,
          pixelValues: withImages ? pixelValues() : undefined,
          imageGridThw: withImages ? fixtureGrids(reference) : undefined,
          maxNewTokens: turn.greedy.length,
          eosTokenIds: [], // the reference does not stop at EOS
        });
        expect(tokens).toEqual(turn.greedy);
      });
    }
  });
}

/**
 * fp16 bundles: weights and activations in half precision (matmuls and norm statistics in fp32). Logits stay within
 * 0.05 of PyTorch's fp32 ones, and greedy tokens agree at least up to the first step whose top-1/top-2 margin is below
 * that.
 */
const FP16_LOGIT_TOLERANCE = 0.05;
for (const name of ["tiny-deepstack-tied", "tiny-plain-untied"]) {
  describe(`engine parity, fp16 bundle: ${name}`, () => {
    let engine: Engine;
    let reference: Reference;
    let bundle: Awaited<ReturnType<typeof temporaryFixtureBundle>>;

    beforeAll(async () => {
      reference = readReference(name);
      bundle = await temporaryFixtureBundle(name, "fp16");
      engine = await Engine.load(bundle.dir, { executionProvider: "cpu" });
    });
    afterAll(async () => {
      await engine?.release();
      await bundle?.remove();
    });

    it("matches turn1's first-step logits within 0.05 and the greedy tokens the margins allow", async () => {
      expect(engine.manifest.dtype).toBe("fp16");
      const grids = fixtureGrids(reference);
      const pixelValues = fixturePixelValues(name, reference);
      const images = await engine.encodeImages(pixelValues, grids);
      const { logits } = await engine.prefill(engine.prepare(reference.turn1.input_ids, grids), images);
      const expected = readFloatNpy(path.join(fixtureDir(name), "turn1_first_logits.npy"));
      expect(maxAbsDiff(logits, expected)).toBeLessThanOrEqual(FP16_LOGIT_TOLERANCE);

      for (const turnName of ["turn1", "turn2", "text_only"] as const) {
        const turn = reference[turnName];
        const withImages = turnName !== "text_only";
        const tokens = await engine.generate({
          inputIds: turn.input_ids,
          pixelValues: withImages ? pixelValues : undefined,
          imageGridThw: withImages ? grids : undefined,
          maxNewTokens: turn.greedy.length,
          eosTokenIds: [],
        });
        const firstNarrow = turn.margins.findIndex((m) => m < FP16_LOGIT_TOLERANCE);
        const decided = firstNarrow === -1 ? turn.greedy.length : firstNarrow;
        expect(tokens.slice(0, decided)).toEqual(turn.greedy.slice(0, decided));
      }
    });
  });
}
