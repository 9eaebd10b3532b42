/**
 * Multimodal rotary embedding of the Qwen3-VL text model, as graph ops.
 *
 * Each of the headDim/2 rotary frequency slots reads its position from one of the three `position_ids` rows
 * (0 = temporal, 1 = height, 2 = width). Qwen3-VL interleaves them (transformers' `apply_interleaved_mrope`): slot j
 * reads row 1 when j ≡ 1 (mod 3) and j < 3·section[1], row 2 when j ≡ 2 (mod 3) and j < 3·section[2], row 0
 * otherwise. The older chunked layout (Qwen2-VL) gives the first section[0] slots to row 0, the next section[1] to
 * row 1, the rest to row 2.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { add, cast, concat, cos, gather, mul, neg, sin, split, transpose, unsqueeze } from "@/lib/model/onnx/ops";

export function mropeSlotRows(headDim: number, mropeSection: readonly number[], interleaved: boolean): number[] {
  const slots = headDim / 2;
  if (!Number.isInteger(slots) || mropeSection.length !== 3 || mropeSection.reduce((a, b) => a + b, 0) !== slots) {
    throw new Error(`mrope_section [${mropeSection.join(", ")}] must have 3 parts summing to head_dim/2 = ${slots}`);
  }
  const rows: number[] = [];
  for (let j = 0; j < slots; j++) {
    if (interleaved) {
      if (j % 3 === 1 && j < 3 * mropeSection[1]) rows.push(1);
      else if (j % 3 === 2 && j < 3 * mropeSection[2]) rows.push(2);
      else rows.push(0);
    } else {
      rows.push(j < mropeSection[0] ? 0 : j < mropeSection[0] + mropeSection[1] ? 1 : 2);
    }
  }
  return rows;
}

/** inv_freq[j] = 1 / theta^(2j / headDim), computed in fp32 as transformers' default rope init does. */
export function ropeInverseFrequencies(headDim: number, theta: number): Float32Array {
  const inv = new Float32Array(headDim / 2);
  // Each fp32 step rounded like torch: exponent, power, reciprocal.
  for (let j = 0; j < inv.length; j++) inv[j] = 1 / Math.fround(Math.pow(theta, Math.fround((2 * j) / headDim)));
  return inv;
}

export interface RotaryTables {
  /** [B, S, 1, D]: broadcasts over heads in the [B, S, N, D] layout. */
  readonly cos: Value;
  /** [B, S, 1, D] with the first half negated, so rotate_half(x)·sin = swap_halves(x)·sinSigned. */
  readonly sinSigned: Value;
}

/**
 * cos/sin tables for `position_ids` [3, B, S] i64, computed once and shared by every layer. The angle of slot j is
 * pos[row(j)]·inv_freq[j] in fp32 (one product, as torch's fp32 matmul with K = 1 gives), duplicated over both halves
 * like `torch.cat((freqs, freqs), -1)`. Tables are cast to the graph's float type, as transformers casts cos/sin to the
 * activations' dtype.
 */
export function buildRotaryTables(
  g: GraphBuilder,
  positionIds: Value,
  opts: { headDim: number; theta: number; mropeSection: readonly number[]; interleaved: boolean },
): RotaryTables {
  return g.scope("rotary_emb", () => {
    const rows = mropeSlotRows(opts.headDim, opts.mropeSection, opts.interleaved);
    const inv = ropeInverseFrequencies(opts.headDim, opts.theta);
    const rowPerDim = g.constInt64([...rows, ...rows]); // [D]
    const invFreq = g.tensor(
      "/model/rotary_emb/inv_freq",
      "float32",
      [opts.headDim],
      Float32Array.from([...inv, ...inv]),
    );

    const bs3 = transpose(g, positionIds, [1, 2, 0]); // [B, S, 3]
    const pos = gather(g, bs3, rowPerDim, 2); // [B, S, D] i64
    const angles = mul(g, cast(g, pos, "float32"), invFreq); // [B, S, D] f32
    const toFloatType = (v: Value) => (g.floatType === "float16" ? cast(g, v, "float16") : v);
    const half = opts.headDim / 2;
    const [sinFirst, sinSecond] = split(g, sin(g, angles), [half, half], -1);
    const cosTable = unsqueeze(g, toFloatType(cos(g, angles)), [2]);
    const sinSigned = unsqueeze(g, toFloatType(concat(g, [neg(g, sinFirst), sinSecond], -1)), [2]);
    return { cos: cosTable, sinSigned };
  });
}

/** x·cos + rotate_half(x)·sin for x [B, S, N, D], where rotate_half(x) = cat(−x2, x1). */
export function applyRotary(g: GraphBuilder, x: Value, tables: RotaryTables, headDim: number): Value {
  const half = headDim / 2;
  const [x1, x2] = split(g, x, [half, half], -1);
  return add(g, mul(g, x, tables.cos), mul(g, concat(g, [x2, x1], -1), tables.sinSigned));
}
