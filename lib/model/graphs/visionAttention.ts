/**
 * Self-attention of one vision block (transformers: Qwen3VLVisionAttention): qkv Linear, 2-D rotary on q and k, full
 * attention inside each frame only (transformers' per-cu_seqlens-chunk attention), proj Linear.
 *
 * One com.microsoft MultiHeadAttention node does the attention over the frame batch of visionFrameBatch.ts; its scale
 * is set explicitly to head_dim^-0.5 because the node sees heads of head_dim + KEY_GATE_WIDTH.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import type { VisionConfig } from "@/lib/model/config";
import { float } from "@/lib/model/onnx/graphBuilder";
import { computeIn, reshape, split, squeeze } from "@/lib/model/onnx/ops";
import { applyVisionRotary, type VisionRotary } from "./visionRotary";
import { fromFrameBatch, toGatedFrameBatch, type VisionFrameBatch } from "./visionFrameBatch";
import { visionLinear } from "./visionLayers";

/**
 * [N, hidden] normalised hidden states → [N, hidden]; `module` is the checkpoint prefix, e.g.
 * `model.visual.blocks.3.attn`.
 */
export function visionAttention(
  g: GraphBuilder,
  vision: VisionConfig,
  module: string,
  x: Value,
  rotary: VisionRotary,
  batch: VisionFrameBatch,
): Value {
  const heads = vision.numHeads;
  const headDim = vision.hiddenSize / heads;
  return g.scope("attn", () => {
    // qkv(x).reshape(seq, 3, heads, head_dim): the 3·hidden outputs are ordered [q | k | v], each heads × head_dim.
    const qkv = reshape(g, visionLinear(g, x, `${module}.qkv`, "qkv"), [0, 3, heads, headDim], "qkv_heads"); // [N, 3, H, hd]
    const [q, k, v] = split(g, qkv, [1, 1, 1], 1, "qkv_split").map((t, i) => squeeze(g, t, [1], `${"qkv"[i]}_squeeze`)); // [N, H, hd]
    const query = toGatedFrameBatch(g, applyVisionRotary(g, q, rotary, "q_rotary"), batch, batch.queryGate, "q_batch");
    const key = toGatedFrameBatch(g, applyVisionRotary(g, k, rotary, "k_rotary"), batch, batch.keyGate, "k_batch");
    const value = toGatedFrameBatch(g, v, batch, batch.valueGate, "v_batch");
    // In fp32 when the graph's Float32Compute widens attention; the gates are exact in either type.
    const [attended] = computeIn(g, "attention", [query, key, value], (qkv) => [
      g.op1(
        "MultiHeadAttention",
        qkv,
        { num_heads: heads, scale: float(headDim ** -0.5) },
        { domain: "com.microsoft" },
      ),
    ]); // [F, S, heads·(head_dim + KEY_GATE_WIDTH)]
    return visionLinear(g, fromFrameBatch(g, attended, batch, heads, headDim), `${module}.proj`, "proj");
  });
}
