import { describe, expect, it } from "vitest";
import { initFor, randomTensor, tensorSeed } from "./randomWeights";

function stats(values: Float32Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length), min, max };
}

describe("random weights", () => {
  it("depend only on (seed, name, shape), not on generation order", () => {
    const a1 = randomTensor(7, "model.visual.blocks.0.attn.qkv.weight", [48, 16]);
    randomTensor(7, "model.language_model.norm.weight", [16]);
    const a2 = randomTensor(7, "model.visual.blocks.0.attn.qkv.weight", [48, 16]);
    expect(Array.from(a2)).toEqual(Array.from(a1));
  });

  it("differ between names and between seeds", () => {
    const base = randomTensor(1, "a.weight", [8, 8]);
    expect(Array.from(randomTensor(1, "b.weight", [8, 8]))).not.toEqual(Array.from(base));
    expect(Array.from(randomTensor(2, "a.weight", [8, 8]))).not.toEqual(Array.from(base));
    expect(tensorSeed(1, "a.weight")).not.toBe(tensorSeed(1, "a.weigh"));
    expect(Number.isSafeInteger(tensorSeed(123456789, "x"))).toBe(true);
  });

  it("scales by role: norms ≈ 1, linears gain/√fan_in, embeddings std 1", () => {
    expect(initFor("model.language_model.layers.0.input_layernorm.weight", [64])).toEqual({ mean: 1, std: 0.1 });
    expect(initFor("model.visual.blocks.3.norm2.weight", [64])).toEqual({ mean: 1, std: 0.1 });
    expect(initFor("model.language_model.layers.0.self_attn.q_norm.weight", [8])).toEqual({ mean: 1, std: 0.1 });
    expect(initFor("model.visual.blocks.3.norm2.bias", [64])).toEqual({ mean: 0, std: 0.05 });
    expect(initFor("model.language_model.layers.0.mlp.down_proj.weight", [16, 64])).toEqual({ mean: 0, std: 2 / 8 });
    expect(initFor("model.visual.patch_embed.proj.weight", [32, 3, 2, 16, 16]).std).toBeCloseTo(
      2 / Math.sqrt(1536),
      12,
    );
    expect(initFor("model.language_model.embed_tokens.weight", [151936, 16]).std).toBe(1);
    expect(initFor("lm_head.weight", [151936, 64]).std).toBe(1);
  });

  it("draws values with the requested mean and spread", () => {
    const values = randomTensor(0, "layer.weight", [256, 64]);
    const s = stats(values);
    const std = 2 / 8;
    expect(Math.abs(s.mean)).toBeLessThan(0.01);
    expect(Math.abs(s.std - std) / std).toBeLessThan(0.02);
    // Uniform on mean ± √3·std: bounded, and filling the range.
    expect(s.max).toBeLessThanOrEqual(Math.sqrt(3) * std);
    expect(s.min).toBeGreaterThanOrEqual(-Math.sqrt(3) * std);
    expect(s.max).toBeGreaterThan(0.99 * Math.sqrt(3) * std);

    const norm = stats(randomTensor(0, "x.norm.weight", [4096]));
    expect(Math.abs(norm.mean - 1)).toBeLessThan(0.01);
  });
});
