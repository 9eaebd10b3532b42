/**
 * The vision tower's 2-D rotary position embedding (transformers: Qwen3VLVisionRotaryEmbedding, rot_pos_emb,
 * apply_rotary_pos_emb_vision).
 *
 * head_dim = hidden / heads. The rotary table has dim = head_dim/2 with inv_freq = 1 / 10000^(arange(0, dim, 2) / dim)
 * ([head_dim/4] frequencies). A patch at (row, col) gets freqs = [row·inv_freq, col·inv_freq] ([head_dim/2]),
 * emb = cat(freqs, freqs) ([head_dim]), and q, k are rotated as x·cos(emb) + rotate_half(x)·sin(emb) in fp32.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { add, cast, concat, cos, mul, neg, reshape, sin, split, unsqueeze } from "@/lib/model/onnx/ops";
import { fusedRotary, type RotaryKind } from "./rotaryEmbedding";
import type { VisionPatchLayout } from "./visionPatchLayout";

const ROTARY_THETA = 10000;

/** The patches' rotation, in the form `kind` applies; q and k are rotated in fp32 either way. */
export type VisionRotary = { readonly heads: number; readonly headDim: number } & (
  | {
      readonly kind: "plain";
      /** [N, 1, head_dim] float32: broadcasts over the heads axis of [N, heads, head_dim]. */
      readonly cos: Value;
      readonly sin: Value;
    }
  | {
      readonly kind: "fused";
      /** [N, head_dim/2] float32: row n is patch n's cos/sin of [row freqs, col freqs] (RotaryEmbedding's caches). */
      readonly cosCache: Value;
      readonly sinCache: Value;
    }
);

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

export function buildVisionRotary(
  g: GraphBuilder,
  kind: RotaryKind,
  layout: VisionPatchLayout,
  heads: number,
  headDim: number,
): VisionRotary {
  if (headDim % 4 !== 0) throw new Error(`vision head_dim ${headDim} must be divisible by 4 for the 2-D rotary`);
  return g.scope("rotary", () => {
    // transformers' buffer model.visual.rotary_pos_emb.inv_freq (not persisted in checkpoints, so computed here).
    const invFreq = g.tensor(
      "model.visual.rotary_pos_emb.inv_freq",
      "float32",
      [1, headDim / 4],
      visionRotaryInverseFrequencies(headDim),
    );
    const angles = (position: Value, name: string) =>
      mul(g, unsqueeze(g, cast(g, position, "float32"), [1]), invFreq, name);
    const rowFreqs = angles(layout.row, "row_freqs"); // [N, head_dim/4]
    const colFreqs = angles(layout.col, "col_freqs"); // [N, head_dim/4]
    if (kind === "fused") {
      const freqs = concat(g, [rowFreqs, colFreqs], 1, "freqs"); // [N, head_dim/2]
      return { kind, heads, headDim, cosCache: cos(g, freqs), sinCache: sin(g, freqs) };
    }
    const emb = concat(g, [rowFreqs, colFreqs, rowFreqs, colFreqs], 1, "emb"); // [N, head_dim]
    const perHead = unsqueeze(g, emb, [1]); // [N, 1, head_dim]
    return { kind, heads, headDim, cos: cos(g, perHead), sin: sin(g, perHead) };
  });
}

/** x·cos + rotate_half(x)·sin for x [N, heads, head_dim]; computed in fp32 like apply_rotary_pos_emb_vision. */
export function applyVisionRotary(g: GraphBuilder, x: Value, rotary: VisionRotary, name: string): Value {
  return g.scope(name, () => {
    const wide = g.floatType === "float32" ? x : cast(g, x, "float32");
    const out = rotary.kind === "fused" ? rotateFused(g, wide, rotary) : rotatePlain(g, wide, rotary);
    return g.floatType === "float32" ? out : cast(g, out, g.floatType);
  });
}

function rotatePlain(g: GraphBuilder, x: Value, rotary: VisionRotary & { kind: "plain" }): Value {
  const half = rotary.headDim / 2;
  const [first, second] = split(g, x, [half, half], -1);
  const rotated = concat(g, [neg(g, second), first], -1, "rotate_half");
  return add(g, mul(g, x, rotary.cos), mul(g, rotated, rotary.sin));
}

/** The patches as one sequence [1, N, heads·head_dim]: patch n reads cache row 0 + n. */
function rotateFused(g: GraphBuilder, x: Value, rotary: VisionRotary & { kind: "fused" }): Value {
  const sequence = reshape(g, x, [1, -1, rotary.heads * rotary.headDim]);
  const out = fusedRotary(g, sequence, g.constInt64([0]), rotary.cosCache, rotary.sinCache);
  return reshape(g, out, [-1, rotary.heads, rotary.headDim]);
}
