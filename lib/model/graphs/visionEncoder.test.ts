import { describe, expect, it } from "vitest";
import type { Qwen3VLConfig, VisionConfig } from "@/lib/model/config";
import { GraphBuilder } from "@/lib/model/onnx/graphBuilder";
import { buildVisionEncoderGraph, type VisionEncoderGraphOptions } from "./visionEncoder";
import { positionGridSide } from "./visionPositionEmbedding";

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

function build(vision: VisionConfig, opts?: VisionEncoderGraphOptions) {
  const g = new GraphBuilder({ name: "vision_encoder", floatType: "float32" });
  buildVisionEncoderGraph(g, { vision } as Qwen3VLConfig, opts);
  return g.parts();
}

describe("buildVisionEncoderGraph", () => {
  it("declares the bundle contract's inputs and outputs", () => {
    const parts = build(VISION);
    expect(parts.inputs).toEqual([
      { name: "pixel_values", type: "float32", dims: ["patches", 1536] },
      { name: "image_grid_thw", type: "int64", dims: ["images", 3] },
    ]);
    expect(parts.outputs).toEqual([
      { name: "image_features", type: "float32", dims: ["merged_patches", 24] },
      { name: "deepstack_features", type: "float32", dims: [2, "merged_patches", 24] },
    ]);
  });

  it("gives every block one MultiHeadAttention with only q, k, v (no mask or bias, so ORT's CPU flash path applies)", () => {
    const attention = build(VISION).nodes.filter((n) => n.opType === "MultiHeadAttention");
    expect(attention).toHaveLength(VISION.depth);
    for (const node of attention) {
      expect(node.domain).toBe("com.microsoft");
      expect(node.inputs).toHaveLength(3);
      expect(node.outputs).toHaveLength(1);
    }
  });

  it("rotates q and k with one fused RotaryEmbedding each per block, or with plain ops (no Neg) when asked", () => {
    const count = (opts: VisionEncoderGraphOptions | undefined, opType: string) =>
      build(VISION, opts).nodes.filter((n) => n.opType === opType).length;
    expect(count(undefined, "RotaryEmbedding")).toBe(2 * VISION.depth);
    expect(count(undefined, "Neg")).toBe(0);
    expect(count({ rotary: "plain" }, "RotaryEmbedding")).toBe(0);
    expect(count({ rotary: "plain" }, "Neg")).toBe(2 * VISION.depth);
  });

  it("references the checkpoint's vision tensors by transformers' names", () => {
    const sources = new Set(build(VISION).initializers.flatMap((i) => (i.kind === "weight" ? [i.sourceName] : [])));
    for (const name of [
      "model.visual.patch_embed.proj.weight",
      "model.visual.pos_embed.weight",
      "model.visual.blocks.2.attn.qkv.bias",
      "model.visual.blocks.2.mlp.linear_fc2.weight",
      "model.visual.merger.norm.weight",
      "model.visual.deepstack_merger_list.1.linear_fc1.weight",
    ]) {
      expect(sources.has(name), name).toBe(true);
    }
    expect([...sources].some((s) => s.startsWith("model.visual.deepstack_merger_list.2"))).toBe(false);
  });

  it("has no deepstack_features output without DeepStack", () => {
    expect(build({ ...VISION, deepstackVisualIndexes: [] }).outputs.map((o) => o.name)).toEqual(["image_features"]);
  });

  it("rejects a position table that is not a square grid and a head size the 2-D rotary cannot split", () => {
    expect(positionGridSide(2304)).toBe(48);
    expect(() => positionGridSide(50)).toThrow(/not a square/);
    expect(() => build({ ...VISION, hiddenSize: 36, numHeads: 2 })).toThrow(/divisible by 4/);
  });
});
