import { describe, expect, it } from "vitest";
import { parsePreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";

/** Qwen3-VL's published preprocessor_config.json (the `size` spelling). */
const QWEN3_VL = {
  size: { longest_edge: 16777216, shortest_edge: 65536 },
  patch_size: 16,
  temporal_patch_size: 2,
  merge_size: 2,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
  processor_class: "Qwen3VLProcessor",
  image_processor_type: "Qwen2VLImageProcessorFast",
};

describe("parsePreprocessorConfig", () => {
  it("reads the size form, taking shortest/longest_edge as pixel counts", () => {
    expect(parsePreprocessorConfig(QWEN3_VL)).toEqual({
      doResize: true,
      minPixels: 65536,
      maxPixels: 16777216,
      doRescale: true,
      rescaleFactor: 1 / 255,
      doNormalize: true,
      imageMean: [0.5, 0.5, 0.5],
      imageStd: [0.5, 0.5, 0.5],
      patchSize: 16,
      temporalPatchSize: 2,
      mergeSize: 2,
    });
  });

  it("reads the min_pixels / max_pixels form, which wins over size", () => {
    const bare = parsePreprocessorConfig({ min_pixels: 3136, max_pixels: 12845056, patch_size: 14 });
    expect([bare.minPixels, bare.maxPixels]).toEqual([3136, 12845056]);
    const both = parsePreprocessorConfig({ ...QWEN3_VL, min_pixels: 1024, max_pixels: 4096 });
    expect([both.minPixels, both.maxPixels]).toEqual([1024, 4096]);
  });

  it("falls back to the processor's defaults (CLIP mean/std, 56² … 28²·1280 pixels, patch 14)", () => {
    const config = parsePreprocessorConfig({});
    expect(config.imageMean).toEqual([0.48145466, 0.4578275, 0.40821073]);
    expect(config.imageStd).toEqual([0.26862954, 0.26130258, 0.27577711]);
    expect([config.minPixels, config.maxPixels, config.patchSize, config.mergeSize]).toEqual([3136, 1003520, 14, 2]);
  });

  it("expands a scalar mean/std to three channels and honours the do_* switches", () => {
    const config = parsePreprocessorConfig({
      image_mean: 0.5,
      image_std: 0.25,
      do_rescale: false,
      do_normalize: false,
    });
    expect(config.imageMean).toEqual([0.5, 0.5, 0.5]);
    expect(config.imageStd).toEqual([0.25, 0.25, 0.25]);
    expect([config.doRescale, config.doNormalize]).toEqual([false, false]);
  });

  it.each([
    [{ size: { shortest_edge: 10 } }, "size"],
    [{ patch_size: 0 }, "patch_size"],
    [{ resample: 2 }, "resample"],
    [{ min_pixels: 5000, max_pixels: 4000 }, "exceed"],
    [{ image_std: [0.5, 0, 0.5] }, "image_std"],
    [{ image_mean: [0.5, 0.5] }, "image_mean"],
  ])("rejects %j with a typed error", (json, mention) => {
    expect(() => parsePreprocessorConfig(json)).toThrow(
      expect.objectContaining({
        code: "invalid_preprocessor_config",
        fault: "server",
        message: expect.stringContaining(mention),
      }),
    );
  });
});
