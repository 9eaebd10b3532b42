import { describe, expect, it } from "vitest";
import type { VisionConfig } from "@/lib/model/config";
import { referenceVisionForward } from "./visionReference";
import {
  buildVisionSession,
  inMemoryWeightSource,
  maxAbsDiff,
  randomVisionWeights,
  syntheticPixels,
  withVision,
  type Grid,
} from "./visionTestModel";

/** Tiny tower with DeepStack on non-adjacent blocks and a 6×6 position grid, so larger grids must interpolate. */
const VISION: VisionConfig = {
  depth: 3,
  hiddenSize: 32,
  intermediateSize: 48,
  numHeads: 2,
  patchSize: 16,
  temporalPatchSize: 2,
  spatialMergeSize: 2,
  inChannels: 3,
  outHiddenSize: 24,
  numPositionEmbeddings: 36,
  deepstackVisualIndexes: [0, 2],
  hiddenAct: "gelu_pytorch_tanh",
};
const PATCH = 3 * 2 * 16 * 16;
const weights = randomVisionWeights(VISION, 7);
const source = inMemoryWeightSource(VISION, weights);
const reference = (pixels: Float32Array, grids: Grid[]) =>
  referenceVisionForward(VISION, (name) => weights.get(name) as Float32Array, pixels, grids);

const rows = (grids: Grid[]) => grids.reduce((sum, [t, h, w]) => sum + (t * h * w) / 4, 0);

describe("vision encoder graph", () => {
  const session = buildVisionSession(withVision(VISION), source);

  it.each<[string, Grid[]]>([
    ["one 4×6 image", [[1, 4, 6]]],
    ["one 8×8 image", [[1, 8, 8]]],
    [
      "three images of different grids",
      [
        [1, 4, 6],
        [1, 8, 8],
        [1, 2, 2],
      ],
    ],
  ])("gives [N/4, out] features and [2, N/4, out] DeepStack features for %s", async (_, grids) => {
    const out = await (await session).run(syntheticPixels(grids, PATCH, 1), grids);
    expect(out.featureDims).toEqual([rows(grids), VISION.outHiddenSize]);
    expect(out.deepstack?.dims).toEqual([2, rows(grids), VISION.outHiddenSize]);
  });

  it.each<[string, Grid[]]>([
    ["a 4×6 image", [[1, 4, 6]]],
    ["a 10×14 image (grid beyond the 6×6 position table)", [[1, 10, 14]]],
    [
      "two images in one call",
      [
        [1, 8, 8],
        [1, 4, 6],
      ],
    ],
    ["a two-frame clip (attention per frame)", [[2, 4, 4]]],
  ])("matches the step-by-step reference tower for %s", async (_, grids) => {
    const pixels = syntheticPixels(grids, PATCH, 2);
    const out = await (await session).run(pixels, grids);
    const expected = reference(pixels, grids);
    expect(maxAbsDiff(out.imageFeatures, expected.imageFeatures)).toBeLessThan(1e-4);
    const deepstack = out.deepstack?.data as Float32Array;
    const n = expected.imageFeatures.length;
    expected.deepstack.forEach((layer, j) =>
      expect(maxAbsDiff(deepstack.subarray(j * n, (j + 1) * n), layer)).toBeLessThan(1e-4),
    );
  });

  it("encodes two images in one call exactly as the concatenation of encoding each alone", async () => {
    const a: Grid = [1, 8, 8];
    const b: Grid = [1, 4, 6];
    const pixelsA = syntheticPixels([a], PATCH, 3);
    const pixelsB = syntheticPixels([b], PATCH, 4);
    const s = await session;
    const alone = [await s.run(pixelsA, [a]), await s.run(pixelsB, [b])];
    const joined = new Float32Array(pixelsA.length + pixelsB.length);
    joined.set(pixelsA);
    joined.set(pixelsB, pixelsA.length);
    const together = await s.run(joined, [a, b]);

    const concat = new Float32Array(together.imageFeatures.length);
    concat.set(alone[0].imageFeatures);
    concat.set(alone[1].imageFeatures, alone[0].imageFeatures.length);
    expect(maxAbsDiff(together.imageFeatures, concat)).toBeLessThanOrEqual(1e-5);

    const [rowsA, rowsB] = [rows([a]), rows([b])];
    const out = VISION.outHiddenSize;
    const togetherDeep = together.deepstack?.data as Float32Array;
    for (let j = 0; j < 2; j++) {
      const deepA = (alone[0].deepstack?.data as Float32Array).subarray(j * rowsA * out, (j + 1) * rowsA * out);
      const deepB = (alone[1].deepstack?.data as Float32Array).subarray(j * rowsB * out, (j + 1) * rowsB * out);
      const base = j * (rowsA + rowsB) * out;
      expect(maxAbsDiff(togetherDeep.subarray(base, base + rowsA * out), deepA)).toBeLessThanOrEqual(1e-5);
      expect(
        maxAbsDiff(togetherDeep.subarray(base + rowsA * out, base + (rowsA + rowsB) * out), deepB),
      ).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe("vision encoder graph with the plain rotary", () => {
  it("computes the fused rotary graph's function (the default) to fp32 rounding, over two images and a clip", async () => {
    const plain = await buildVisionSession(withVision(VISION), source, { graph: { rotary: "plain" } });
    const fused = await buildVisionSession(withVision(VISION), source, { graph: { rotary: "fused" } });
    const grids: Grid[] = [
      [1, 10, 14],
      [2, 4, 4],
    ];
    const pixels = syntheticPixels(grids, PATCH, 7);
    const [expected, actual] = [await plain.run(pixels, grids), await fused.run(pixels, grids)];
    // Largest |Δ| over the largest |value| of the plain graph's output (measured: 2.2e-7 and 2.4e-7).
    const relative = (a: ArrayLike<number>, b: ArrayLike<number>) =>
      maxAbsDiff(a, b) / Array.from(b).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(relative(actual.imageFeatures, expected.imageFeatures)).toBeLessThanOrEqual(1e-6);
    expect(
      relative(actual.deepstack?.data as Float32Array, expected.deepstack?.data as Float32Array),
    ).toBeLessThanOrEqual(1e-6);
  });
});

describe("vision encoder graph without DeepStack", () => {
  it("has image_features as its only output", async () => {
    const plain: VisionConfig = { ...VISION, deepstackVisualIndexes: [] };
    const s = await buildVisionSession(withVision(plain), inMemoryWeightSource(plain, randomVisionWeights(plain, 8)));
    expect(s.session.outputNames).toEqual(["image_features"]);
    const out = await s.run(syntheticPixels([[1, 4, 4]], PATCH, 5), [[1, 4, 4]]);
    expect(out.featureDims).toEqual([4, VISION.outHiddenSize]);
  });
});

describe("vision encoder graph in float16", () => {
  it("takes float32 inputs, returns float16 features and stays within fp16 rounding of the reference", async () => {
    const s = await buildVisionSession(withVision(VISION), source, { floatType: "float16" });
    expect(s.session.inputMetadata.map((m) => (m.isTensor ? m.type : "?"))).toEqual(["float32", "int64"]);
    const grids: Grid[] = [
      [1, 8, 8],
      [1, 4, 6],
    ];
    const pixels = syntheticPixels(grids, PATCH, 6);
    const out = await s.run(pixels, grids);
    expect(out.deepstack?.type).toBe("float16");
    const expected = reference(pixels, grids);
    expect(maxAbsDiff(out.imageFeatures, expected.imageFeatures)).toBeLessThan(1e-2);
  });
});
