/**
 * Scaled dot-product attention with grouped KV heads and a KV cache, in two interchangeable forms:
 * - "plain": MatMul/Softmax over [B, kvHeads, group·S, T] (each KV head serves `group` query heads, as repeat_kv
 *   does, without materialising the repeat), with a causal + padding bias from `attention_mask`; softmax in fp32;
 * - "gqa": ORT's com.microsoft GroupQueryAttention (rotary already applied outside, since M-RoPE is not 1-D). It
 *   applies causality itself; every row is declared T long and `attention_mask` holes (left padding) enter as its
 *   attention_bias input, so both forms compute the same function. ORT's kernel refuses one case: a prefill (S > 1)
 *   on top of a non-empty past with batch > 1; the engine prefills batch 1, and transformers.js prefills from an empty
 *   cache, so neither meets it.
 * A float16 graph whose Float32Compute widens attention casts q, k, v and the past up and the output and presents
 * back; the presents stay bit-identical (float16 → float32 → float16 is exact), only the arithmetic is wider.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { float } from "@/lib/model/onnx/graphBuilder";
import {
  add,
  and,
  cast,
  computeIn,
  concat,
  expand,
  matMul,
  mul,
  range,
  reshape,
  shape,
  softmax,
  squeeze,
  sub,
  transpose,
  unsqueeze,
  where,
} from "@/lib/model/onnx/ops";

export type AttentionKind = "plain" | "gqa";

export interface AttentionShape {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

/** Values shared by every layer, computed once from the graph inputs. */
export interface AttentionContext {
  readonly kind: AttentionKind;
  /**
   * Additive bias, 0 = attend, lowest float = masked. plain: [B, 1, 1, S, T] fp32 with causality and padding;
   * gqa: [B, 1, S, T] in the type attention computes in, with padding only (the op applies causality itself).
   */
  readonly bias: Value;
  /** gqa: per-row total length − 1 [B] int32 and the total length T as an int32 scalar. */
  readonly seqlensK: Value | null;
  readonly totalLength: Value | null;
}

/** Lowest fp32 value: torch's mask fill (finfo.min), which keeps fully masked rows finite. */
const MASKED = -3.4028234663852886e38;
/** Lowest fp16 value, for biases of attention computed in fp16. */
const MASKED_FP16 = -65504;

export function buildAttentionContext(
  g: GraphBuilder,
  kind: AttentionKind,
  attentionMask: Value,
  inputsEmbeds: Value,
): AttentionContext {
  return g.scope("attn_mask", () => {
    const total = shape(g, attentionMask, 1, 2); // [1]
    const seq = shape(g, inputsEmbeds, 1, 2); // [1]
    const keyValid = cast(g, attentionMask, "bool"); // [B, T]
    if (kind === "gqa") {
      // Every row is declared T long (causality from positions alone); padding comes in through the bias.
      const batch = shape(g, attentionMask, 0, 1); // [1]
      const seqlensK = expand(g, cast(g, sub(g, total, g.constInt64([1])), "int32"), batch); // [B]
      const totalLength = squeeze(g, cast(g, total, "int32"), [0]);
      const type = g.computeType("attention");
      const masked = type === "float16" ? MASKED_FP16 : MASKED;
      const rowBias = where(
        g,
        unsqueeze(g, keyValid, [1, 2]),
        g.constFloat([0], [], type),
        g.constFloat([masked], [], type),
      ); // [B,1,1,T]
      const bias = expand(g, rowBias, concat(g, [batch, g.constInt64([1]), seq, total], 0)); // [B, 1, S, T]
      return { kind, bias, seqlensK, totalLength };
    }
    const zero = g.constInt64([0], []);
    const one = g.constInt64([1], []);
    const totalScalar = squeeze(g, total, [0]);
    const past = sub(g, totalScalar, squeeze(g, seq, [0])); // P = T − S
    // Query i sits at absolute index P + i and may see keys j ≤ P + i whose attention_mask is 1.
    const queryIndex = unsqueeze(g, range(g, past, totalScalar, one), [1]); // [S, 1]
    const keyIndex = unsqueeze(g, range(g, zero, totalScalar, one), [0]); // [1, T]
    const causal = g.op1("LessOrEqual", [keyIndex, queryIndex]); // [S, T]
    const allowed = and(g, causal, unsqueeze(g, keyValid, [1, 2, 3])); // [B, 1, 1, S, T]
    const bias = where(g, allowed, g.constFloat([0], [], "float32"), g.constFloat([MASKED], [], "float32"));
    return { kind, bias, seqlensK: null, totalLength: null };
  });
}

export interface AttentionResult {
  /** [B, S, numHeads·headDim] */
  readonly output: Value;
  /** [B, kvHeads, T, D] each */
  readonly presentKey: Value;
  readonly presentValue: Value;
}

/**
 * q [B, S, numHeads, D], k and v [B, S, kvHeads, D] (rotary applied), past [B, kvHeads, P, D].
 */
export function attention(
  g: GraphBuilder,
  ctx: AttentionContext,
  dims: AttentionShape,
  q: Value,
  k: Value,
  v: Value,
  pastKey: Value,
  pastValue: Value,
): AttentionResult {
  const { numHeads, numKvHeads, headDim } = dims;
  const scale = 1 / Math.sqrt(headDim);
  const [output, presentKey, presentValue] = computeIn(
    g,
    "attention",
    [q, k, v, pastKey, pastValue],
    ([q, k, v, pastKey, pastValue], type) => {
      if (ctx.kind === "gqa") {
        const flat = (x: Value, heads: number) => reshape(g, x, [0, 0, heads * headDim]);
        return g.op(
          "GroupQueryAttention",
          // Inputs 7–9 (cos/sin cache, position_ids) stay empty: rotary was applied outside. Input 10 is
          // attention_bias.
          [
            flat(q, numHeads),
            flat(k, numKvHeads),
            flat(v, numKvHeads),
            pastKey,
            pastValue,
            ctx.seqlensK,
            ctx.totalLength,
            null,
            null,
            null,
            ctx.bias,
          ],
          { num_heads: numHeads, kv_num_heads: numKvHeads, scale: float(scale) },
          { domain: "com.microsoft", outputs: 3 },
        );
      }

      const group = numHeads / numKvHeads;
      const toHeadsFirst = (x: Value) => transpose(g, x, [0, 2, 1, 3]); // [B, N, S, D]
      const presentKey = concat(g, [pastKey, toHeadsFirst(k)], 2); // [B, kvHeads, T, D]
      const presentValue = concat(g, [pastValue, toHeadsFirst(v)], 2);
      // Query head h uses KV head floor(h / group), as repeat_kv pairs them: split the heads axis into [kvHeads, group]
      // and let MatMul broadcast each KV head over its group instead of materialising the repeat.
      const queries = reshape(g, toHeadsFirst(q), [0, numKvHeads, group, -1, headDim]); // [B, kvH, G, S, D]
      const keysT = transpose(g, unsqueeze(g, presentKey, [2]), [0, 1, 2, 4, 3]); // [B, kvH, 1, D, T]
      const scores = mul(g, matMul(g, queries, keysT), g.constFloat([scale], [], type)); // [B, kvH, G, S, T]
      // Softmax in fp32 whatever the compute type, as transformers' eager attention does.
      const scores32 = type === "float16" ? cast(g, scores, "float32") : scores;
      const probs32 = softmax(g, add(g, scores32, ctx.bias), -1);
      const probs = type === "float16" ? cast(g, probs32, "float16") : probs32;
      const context = matMul(g, probs, unsqueeze(g, presentValue, [2])); // [B, kvH, G, S, D]
      const perHead = reshape(g, context, [0, numHeads, -1, headDim]); // [B, numHeads, S, D]
      return [reshape(g, transpose(g, perHead, [0, 2, 1, 3]), [0, 0, numHeads * headDim]), presentKey, presentValue];
    },
  );
  return { output, presentKey, presentValue };
}
