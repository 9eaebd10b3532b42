/**
 * Frames as an attention batch: the layout that lets one MultiHeadAttention node attend inside each frame only, with
 * no [N, N] mask.
 *
 * transformers attends separately on each cu_seqlens chunk (one frame of h·w patches). Here the F frames of a call
 * become F batch rows of S = max frame length slots: slot (f, j) holds patch frameStart[f] + j, or padding when
 * j ≥ frameLength[f]. A single image (the common call) is one batch row with no padding at all.
 *
 * Padding keys must get zero attention weight without a key_padding_mask or attention bias: either one sends ORT's CPU
 * MultiHeadAttention off its flash-attention path onto one that materialises [heads, S, S] scores (and an [N, N] bias
 * alone is 4.3 G entries at Qwen3-VL's largest images). So q and k get KEY_GATE_WIDTH extra dimensions per head:
 * queries carry [1, 0, …], real keys [0, 0, …] and padding keys [-GATE, 0, …]. A real key's score gains exactly
 * 1·0 = +0; a padding key's score drops by GATE·scale, so its softmax weight is exactly 0 in fp32 and fp16 alike.
 * Every frame has at least one real key, so no row is all padding. Values get KEY_GATE_WIDTH zero dimensions per head
 * as well, which the output drops again: ORT's WebGPU MultiHeadAttention takes its flash-attention kernel only when
 * value heads are as wide as query/key heads (the CPU's takes either). On an H200 that took the 2b vision encoder
 * (one 1024×768 image) from 765 to 222 ms in fp32.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { concat, expand, gather, reshape, slice, unsqueeze, where } from "@/lib/model/onnx/ops";
import type { VisionPatchLayout } from "./visionPatchLayout";

/** Extra per-head q/k dimensions: one would do; 4 keeps head sizes a multiple of 4 for vectorised GPU kernels. */
export const KEY_GATE_WIDTH = 4;
/** Drop of a padding key's raw score: far beyond any real score, and finite with margin in fp16 (max 65504). */
const GATE = { float32: 1e9, float16: 30000 } as const;

export interface VisionFrameBatch {
  /** [F·S] int64: the patch each slot reads (patch 0 for padding slots; their keys are gated off). */
  readonly slotPatch: Value;
  /** [N] int64: each patch's slot f·S + inFrame. */
  readonly patchSlot: Value;
  /** [3] int64: [F, S, heads·(head_dim + KEY_GATE_WIDTH)], the query/key/value batch shape. */
  readonly gatedShape: Value;
  /** [F·S, heads, KEY_GATE_WIDTH] extra dimensions of queries, keys and values, in the graph's float type. */
  readonly queryGate: Value;
  readonly keyGate: Value;
  readonly valueGate: Value;
}

export function buildVisionFrameBatch(
  g: GraphBuilder,
  layout: VisionPatchLayout,
  heads: number,
  headDim: number,
): VisionFrameBatch {
  return g.scope("frame_batch", () => {
    const zero = g.constInt64([0], []);
    const one = g.constInt64([1], []);
    const slotsPerFrame = g.op1("ReduceMax", [layout.frameLength], { keepdims: 0 }, { name: "slots_per_frame" }); // S
    const slotCount = g.op1("Mul", [layout.totalFrames, slotsPerFrame], {}, { name: "slot_count" });
    const slots = g.op1("Range", [zero, slotCount, one], {}, { name: "slots" }); // [F·S]
    const slotFrame = g.op1("Div", [slots, slotsPerFrame], {}, { name: "slot_frame" });
    const slotOffset = g.op1("Mod", [slots, slotsPerFrame], {}, { name: "slot_offset" });
    const isReal = g.op1("Less", [slotOffset, gather(g, layout.frameLength, slotFrame)], {}, { name: "is_real" });
    const slotPatch = where(
      g,
      isReal,
      g.op1("Add", [gather(g, layout.frameStart, slotFrame), slotOffset]),
      zero,
      "slot_patch",
    );
    const patchSlot = g.op1(
      "Add",
      [g.op1("Mul", [layout.frame, slotsPerFrame]), layout.inFrame],
      {},
      { name: "patch_slot" },
    );

    const batchDims = [unsqueeze(g, layout.totalFrames, [0]), unsqueeze(g, slotsPerFrame, [0])];
    const gatedShape = concat(g, [...batchDims, g.constInt64([heads * (headDim + KEY_GATE_WIDTH)])], 0, "gated_shape");

    const firstColumn = g.constFloat(
      Array.from({ length: KEY_GATE_WIDTH }, (_, i) => (i === 0 ? 1 : 0)),
      [1, 1, KEY_GATE_WIDTH],
    );
    const gateShape = concat(g, [unsqueeze(g, slotCount, [0]), g.constInt64([heads, KEY_GATE_WIDTH])], 0, "gate_shape");
    const keyDrop = where(g, isReal, g.constFloat([0], []), g.constFloat([-GATE[g.floatType]], []), "key_drop"); // [F·S]
    const keyGate = expand(g, g.op1("Mul", [unsqueeze(g, keyDrop, [1, 2]), firstColumn]), gateShape, "key_gate");
    const queryGate = expand(g, firstColumn, gateShape, "query_gate");
    const valueGate = expand(g, g.constFloat([0], [1, 1, 1]), gateShape, "value_gate");
    return { slotPatch, patchSlot, gatedShape, queryGate, keyGate, valueGate };
  });
}

/** [N, heads, head_dim] q, k or v rows → [F, S, heads·(head_dim + KEY_GATE_WIDTH)] with `gate` appended to each head. */
export function toGatedFrameBatch(
  g: GraphBuilder,
  x: Value,
  batch: VisionFrameBatch,
  gate: Value,
  name: string,
): Value {
  return g.scope(name, () => {
    const slotted = gather(g, x, batch.slotPatch, 0, "slots"); // [F·S, heads, head_dim]
    return reshape(g, concat(g, [slotted, gate], 2, "gated"), batch.gatedShape);
  });
}

/** [F, S, heads·(head_dim + KEY_GATE_WIDTH)] attention output → [N, heads·head_dim] patch rows, gate dims dropped. */
export function fromFrameBatch(
  g: GraphBuilder,
  y: Value,
  batch: VisionFrameBatch,
  heads: number,
  headDim: number,
): Value {
  return g.scope("unbatch", () => {
    const slots = reshape(g, y, [-1, heads, headDim + KEY_GATE_WIDTH], "slots"); // [F·S, heads, head_dim + gate]
    const patches = gather(g, slots, batch.patchSlot, 0, "patches"); // [N, heads, head_dim + gate]
    return reshape(g, slice(g, patches, [0], [headDim], [2], undefined, "ungated"), [-1, heads * headDim], "rows");
  });
}
