/**
 * Self-attention of one vision block (transformers: Qwen3VLVisionAttention), full attention inside each frame only.
 *
 * transformers splits q, k, v at cu_seqlens (one chunk of h·w patches per frame) and attends per chunk. One graph call
 * here holds every frame of every image, so the same isolation comes from an additive bias [N, N]: 0 where two patches
 * share a frame, the float type's lowest value elsewhere. Masked scores underflow to exactly 0 after softmax, and every
 * row keeps its own diagonal, so no row is all-masked. The result equals per-chunk attention.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import type { VisionConfig } from "@/lib/model/config";
import { applyVisionRotary, type VisionRotary } from "./visionRotary";
import { visionLinear } from "./visionLayers";

/** Lowest finite value per float type: the additive bias of a masked pair. */
const LOWEST = { float32: -3.4028234663852886e38, float16: -65504 } as const;

/** [1, 1, N, N] additive bias: 0 inside a frame, lowest elsewhere. `frame` is [N] int64. */
export function buildFrameAttentionBias(g: GraphBuilder, frame: Value): Value {
  return g.scope("attention_bias", () => {
    const same = g.op1("Equal", [g.op1("Unsqueeze", [frame, g.constInt64([1])]), g.op1("Unsqueeze", [frame, g.constInt64([0])])]);
    const bias = g.op1("Where", [same, g.constFloat([0], []), g.constFloat([LOWEST[g.floatType]], [])]); // [N, N]
    return g.op1("Unsqueeze", [bias, g.constInt64([0, 1])]);
  });
}

/**
 * How attention is expressed: one com.microsoft MultiHeadAttention node, or plain MatMul → Add → Softmax → MatMul.
 * Both are exact; which runs faster depends on the execution provider (see bench in the vision tests' notes).
 */
export type VisionAttentionKernel = "multi_head_attention" | "matmul_softmax";

export interface VisionAttentionInputs {
  /** [N, hidden] normalised hidden states. */
  readonly x: Value;
  readonly rotary: VisionRotary;
  /** [1, 1, N, N] from buildFrameAttentionBias. */
  readonly bias: Value;
  readonly kernel: VisionAttentionKernel;
}

/** [N, hidden] → [N, hidden]; `prefix` is the checkpoint module, e.g. `model.visual.blocks.3.attn`. */
export function visionAttention(g: GraphBuilder, vision: VisionConfig, prefix: string, inputs: VisionAttentionInputs): Value {
  const heads = vision.numHeads;
  const headDim = vision.hiddenSize / heads;
  return g.scope("attn", () => {
    // qkv(x).reshape(seq, 3, heads, head_dim): the 3·hidden outputs are ordered [q | k | v], each heads × head_dim.
    const qkv = visionLinear(g, inputs.x, `${prefix}.qkv`, "qkv");
    const split = g.op1("Reshape", [qkv, g.constInt64([0, 3, heads, headDim])], {}, { name: "qkv_heads" }); // [N, 3, H, hd]
    const [q, k, v] = g
      .op("Split", [split, g.constInt64([1, 1, 1])], { axis: 1 }, { outputs: 3, name: "qkv_split" })
      .map((t, i) => g.op1("Squeeze", [t, g.constInt64([1])], {}, { name: `${"qkv"[i]}_squeeze` })); // [N, H, hd]
    const qRot = applyVisionRotary(g, q, inputs.rotary, "q_rotary");
    const kRot = applyVisionRotary(g, k, inputs.rotary, "k_rotary");

    const attended =
      inputs.kernel === "multi_head_attention"
        ? multiHeadAttentionNode(g, qRot, kRot, v, inputs.bias, heads, vision.hiddenSize)
        : matmulSoftmaxAttention(g, qRot, kRot, v, inputs.bias, headDim, vision.hiddenSize);
    return visionLinear(g, attended, `${prefix}.proj`, "proj");
  });
}

/** q, k, v [N, H, hd] → [N, hidden] through com.microsoft MultiHeadAttention ([1, N, hidden] layout, scale hd^-0.5). */
function multiHeadAttentionNode(g: GraphBuilder, q: Value, k: Value, v: Value, bias: Value, heads: number, hidden: number): Value {
  const asBatch = (t: Value, name: string) => g.op1("Reshape", [t, g.constInt64([1, -1, hidden])], {}, { name });
  const attended = g.op1(
    "MultiHeadAttention",
    [asBatch(q, "q_batch"), asBatch(k, "k_batch"), asBatch(v, "v_batch"), null, null, bias],
    { num_heads: heads },
    { domain: "com.microsoft" },
  ); // [1, N, hidden]
  return g.op1("Reshape", [attended, g.constInt64([-1, hidden])], {}, { name: "attn_out" });
}

/** q, k, v [N, H, hd] → [N, hidden] as softmax(q·kᵀ·hd^-0.5 + bias)·v with plain ops. */
function matmulSoftmaxAttention(g: GraphBuilder, q: Value, k: Value, v: Value, bias: Value, headDim: number, hidden: number): Value {
  const headsFirst = (t: Value, name: string) => g.op1("Transpose", [t], { perm: [1, 0, 2] }, { name }); // [H, N, hd]
  const scaledQ = g.op1("Mul", [headsFirst(q, "q_heads"), g.constFloat([headDim ** -0.5], [])], {}, { name: "q_scaled" });
  const keysT = g.op1("Transpose", [k], { perm: [1, 2, 0] }, { name: "k_heads_t" }); // [H, hd, N]
  const scores = g.op1("Add", [g.op1("MatMul", [scaledQ, keysT], {}, { name: "scores" }), bias]); // [1, H, N, N]
  const probs = g.op1("Softmax", [scores], { axis: -1 });
  const context = g.op1("MatMul", [probs, headsFirst(v, "v_heads")], {}, { name: "context" }); // [1, H, N, hd]
  const tokensFirst = g.op1("Transpose", [context], { perm: [0, 2, 1, 3] }); // [1, N, H, hd]
  return g.op1("Reshape", [tokensFirst, g.constInt64([-1, hidden])], {}, { name: "attn_out" });
}
