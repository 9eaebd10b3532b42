/**
 * Multimodal rotary embedding of the Qwen3-VL text model, as graph ops: per-token cos/sin tables built once per run,
 * applied to q and k of every layer in either form of rotaryEmbedding.ts.
 *
 * Each of the headDim/2 rotary frequency slots reads its position from one of the three `position_ids` rows
 * (0 = temporal, 1 = height, 2 = width). Qwen3-VL interleaves them (transformers' `apply_interleaved_mrope`): slot j
 * reads row 1 when j ≡ 1 (mod 3) and j < 3·section[1], row 2 when j ≡ 2 (mod 3) and j < 3·section[2], row 0
 * otherwise. The older chunked layout (Qwen2-VL) gives the first section[0] slots to row 0, the next section[1] to
 * row 1, the rest to row 2.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import {
  add,
  cast,
  concat,
  cos,
  gather,
  mul,
  neg,
  range,
  reshape,
  shape,
  sin,
  split,
  squeeze,
  transpose,
  unsqueeze,
} from "@/lib/model/onnx/ops";
import { fusedRotary, type RotaryKind } from "./rotaryEmbedding";

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

/**
 * The per-token rotation, in the form `kind` applies. Slot j's angle drives dims j and j + D/2 (freqs repeated over
 * both halves, like `torch.cat((freqs, freqs), -1)`).
 */
export type RotaryTables =
  | {
      readonly kind: "plain";
      /** [B, S, 1, D]: broadcasts over heads in the [B, S, N, D] layout. */
      readonly cos: Value;
      /** [B, S, 1, D] with the first half negated, so rotate_half(x)·sin = swap_halves(x)·sinSigned. */
      readonly sinSigned: Value;
    }
  | {
      readonly kind: "fused";
      /** [B·S, D/2]: row b·S + i holds token (b, i)'s cos/sin of the D/2 slots (RotaryEmbedding's caches). */
      readonly cosCache: Value;
      readonly sinCache: Value;
      /** [B, S] int64 = b·S + i, each token's cache row. */
      readonly cacheRows: Value;
    };

/**
 * cos/sin tables for `position_ids` [3, B, S] i64, computed once and shared by every layer. The angle of slot j is
 * pos[row(j)]·inv_freq[j] in fp32 (one product, as torch's fp32 matmul with K = 1 gives). Tables are cast to the
 * graph's float type, as transformers casts cos/sin to the activations' dtype.
 */
export function buildRotaryTables(
  g: GraphBuilder,
  kind: RotaryKind,
  positionIds: Value,
  opts: { headDim: number; theta: number; mropeSection: readonly number[]; interleaved: boolean },
): RotaryTables {
  return g.scope("rotary_emb", () => {
    const half = opts.headDim / 2;
    const rows = mropeSlotRows(opts.headDim, opts.mropeSection, opts.interleaved);
    const invFreq = g.tensor(
      "/model/rotary_emb/inv_freq",
      "float32",
      [half],
      ropeInverseFrequencies(opts.headDim, opts.theta),
    );

    const bs3 = transpose(g, positionIds, [1, 2, 0]); // [B, S, 3]
    const pos = gather(g, bs3, g.constInt64(rows), 2); // [B, S, D/2] i64
    const angles = mul(g, cast(g, pos, "float32"), invFreq); // [B, S, D/2] f32
    const toFloatType = (v: Value) => (g.floatType === "float16" ? cast(g, v, "float16") : v);
    const cosHalf = cos(g, angles);
    const sinHalf = sin(g, angles);
    if (kind === "fused") {
      const cosCache = toFloatType(reshape(g, cosHalf, [-1, half]));
      const tokens = squeeze(g, shape(g, cosCache, 0, 1), [0]); // B·S
      const tokenRows = range(g, g.constInt64([0], []), tokens, g.constInt64([1], []));
      return {
        kind,
        cosCache,
        sinCache: toFloatType(reshape(g, sinHalf, [-1, half])),
        cacheRows: reshape(g, tokenRows, shape(g, positionIds, 1, 3)),
      };
    }
    const table = (first: Value, second: Value) => unsqueeze(g, toFloatType(concat(g, [first, second], -1)), [2]);
    return { kind, cos: table(cosHalf, cosHalf), sinSigned: table(neg(g, sinHalf), sinHalf) };
  });
}

/** x·cos + rotate_half(x)·sin for x [B, S, N, D], where rotate_half(x) = cat(−x2, x1). */
export function applyRotary(g: GraphBuilder, x: Value, tables: RotaryTables, headDim: number): Value {
  if (tables.kind === "fused") {
    const flat = reshape(g, x, [0, 0, -1]); // [B, S, N·D]: the op's 3-D layout
    return reshape(g, fusedRotary(g, flat, tables.cacheRows, tables.cosCache, tables.sinCache), [0, 0, -1, headDim]);
  }
  const half = headDim / 2;
  const [x1, x2] = split(g, x, [half, half], -1);
  return add(g, mul(g, x, tables.cos), mul(g, concat(g, [x2, x1], -1), tables.sinSigned));
}
