/**
 * The vision tower's 2-D rotary position embedding (transformers: Qwen3VLVisionRotaryEmbedding, rot_pos_emb,
 * apply_rotary_pos_emb_vision).
 *
 * head_dim = hidden / heads. The rotary table has dim = head_dim/2 with inv_freq = 1 / 10000^(arange(0, dim, 2) / dim)
 * ([head_dim/4] frequencies). A patch at (row, col) gets freqs = [row·inv_freq, col·inv_freq] ([head_dim/2]),
 * emb = cat(freqs, freqs) ([head_dim]), and q, k are rotated as x·cos(emb) + rotate_half(x)·sin(emb) in fp32.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { cast } from "@/lib/model/onnx/ops";
import type { VisionPatchLayout } from "./visionPatchLayout";

const ROTARY_THETA = 10000;

export interface VisionRotary {
  /** [N, 1, head_dim] float32: broadcasts over the heads axis of [N, heads, head_dim]. */
  readonly cos: Value;
  readonly sin: Value;
  readonly headDim: number;
}

/** inv_freq of Qwen3VLVisionRotaryEmbedding(head_dim / 2), rounded step by step to fp32 as torch computes it. */
export function visionRotaryInverseFrequencies(headDim: number): Float32Array {
  const dim = headDim / 2;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < out.length; i++) {
    const exponent = Math.fround((2 * i) / dim);
    out[i] = Math.fround(1 / Math.fround(ROTARY_THETA ** exponent));
  }
  return out;
}

export function buildVisionRotary(g: GraphBuilder, layout: VisionPatchLayout, headDim: number): VisionRotary {
  if (headDim % 4 !== 0) throw new Error(`vision head_dim ${headDim} must be divisible by 4 for the 2-D rotary`);
  return g.scope("rotary", () => {
    const invFreq = g.tensor("/model/visual/rotary/inv_freq", "float32", [1, headDim / 4], visionRotaryInverseFrequencies(headDim));
    const angles = (position: Value, name: string) =>
      g.op1("Mul", [g.op1("Unsqueeze", [cast(g, position, "float32"), g.constInt64([1])]), invFreq], {}, { name });
    const rowFreqs = angles(layout.row, "row_freqs"); // [N, head_dim/4]
    const colFreqs = angles(layout.col, "col_freqs"); // [N, head_dim/4]
    const emb = g.op1("Concat", [rowFreqs, colFreqs, rowFreqs, colFreqs], { axis: 1 }, { name: "emb" }); // [N, head_dim]
    const perHead = g.op1("Unsqueeze", [emb, g.constInt64([1])]); // [N, 1, head_dim]
    return { cos: g.op1("Cos", [perHead]), sin: g.op1("Sin", [perHead]), headDim };
  });
}

/** x·cos + rotate_half(x)·sin for x [N, heads, head_dim]; computed in fp32 like apply_rotary_pos_emb_vision. */
export function applyVisionRotary(g: GraphBuilder, x: Value, rotary: VisionRotary, name: string): Value {
  return g.scope(name, () => {
    const wide = g.floatType === "float32" ? x : cast(g, x, "float32");
    const half = rotary.headDim / 2;
    const [first, second] = g.op(
      "Split",
      [wide, g.constInt64([half, half])],
      { axis: -1 },
      { outputs: 2 },
    );
    const rotated = g.op1("Concat", [g.op1("Neg", [second]), first], { axis: -1 }, { name: "rotate_half" });
    const out = g.op1("Add", [g.op1("Mul", [wide, rotary.cos]), g.op1("Mul", [rotated, rotary.sin])]);
    return g.floatType === "float32" ? out : cast(g, out, g.floatType);
  });
}
