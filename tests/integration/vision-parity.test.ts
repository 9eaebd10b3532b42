import { describe, expect, it } from "vitest";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import { readSourceConfig } from "@/lib/model/convert/convert";
import { npyAsFloat32 } from "@/lib/model/npy";
import { loadFixture } from "@/lib/model/parity/fixture";
import { buildVisionSession, maxAbsDiff, type Grid } from "./visionTestModel";

/**
 * The vision graph alone against PyTorch: fixtures/parity/<name>/vision_image_features.npy and vision_deepstack.npy
 * hold transformers' Qwen3VLVisionModel outputs for the pixel values of images_in_order, concatenated. The graph is
 * built straight from the fixture checkpoint (fp32) and run both on all images in one call (the multi-image path)
 * and on each image alone (what the engine does per image for the L1 cache).
 */

const TOLERANCE = 1e-4;

describe.each(["tiny-deepstack-tied", "tiny-plain-untied"])("vision encoder parity with transformers on %s", (name) => {
  const setup = (async () => {
    const fixture = await loadFixture(`fixtures/parity/${name}`);
    const cfg = await readSourceConfig(fixture.modelDir);
    const checkpoint = await SafetensorsCheckpoint.open(fixture.modelDir);
    const session = await buildVisionSession(cfg, checkpoint);
    await checkpoint.close();
    const pixels = await fixture.pixelValuesInOrder();
    const features = await fixture.readNpy("vision_image_features.npy");
    const deepstack = await fixture.readNpy("vision_deepstack.npy");
    if (pixels === null || features === null)
      throw new Error(`fixture ${name} lacks pixel values or vision_image_features.npy`);
    const grids = fixture.reference.image_grid_thw as Grid[];
    return { cfg, session, pixels, grids, features, deepstack };
  })();

  it("reproduces image_features and deepstack_features for all images in one call", async () => {
    const { cfg, session, pixels, grids, features, deepstack } = await setup;
    const out = await session.run(pixels, grids);
    expect(out.featureDims).toEqual(features.shape);
    expect(maxAbsDiff(out.imageFeatures, npyAsFloat32(features))).toBeLessThanOrEqual(TOLERANCE);
    if (cfg.vision.deepstackVisualIndexes.length === 0) {
      expect(out.deepstack).toBeUndefined();
    } else {
      if (deepstack === null) throw new Error(`fixture ${name} has DeepStack but no vision_deepstack.npy`);
      expect(out.deepstack?.dims).toEqual(deepstack.shape);
      expect(maxAbsDiff(out.deepstack?.data as Float32Array, npyAsFloat32(deepstack))).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("reproduces each image's rows of image_features when the image is encoded alone", async () => {
    const { session, pixels, grids, features } = await setup;
    const expected = npyAsFloat32(features);
    const patchFeatures = pixels.length / grids.reduce((sum, [t, h, w]) => sum + t * h * w, 0);
    const outHidden = features.shape[1];
    let patchOffset = 0;
    let rowOffset = 0;
    for (const grid of grids) {
      const patches = grid[0] * grid[1] * grid[2];
      const out = await session.run(
        pixels.subarray(patchOffset * patchFeatures, (patchOffset + patches) * patchFeatures),
        [grid],
      );
      const rows = patches / 4;
      expect(
        maxAbsDiff(out.imageFeatures, expected.subarray(rowOffset * outHidden, (rowOffset + rows) * outHidden)),
      ).toBeLessThanOrEqual(TOLERANCE);
      patchOffset += patches;
      rowOffset += rows;
    }
  });
});
