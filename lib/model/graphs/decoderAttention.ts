import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { float } from "@/lib/model/onnx/graphBuilder";
import { BOOL, FLOAT, FLOAT16, INT32 } from "./decoderRotary";

/**
 * Scaled dot-product attention with grouped KV heads and a KV cache, in two interchangeable forms:
 * - "plain": MatMul/Softmax over [B, kvHeads, group·S, T] (each KV head serves `group` query heads, as repeat_kv
 *   does, without materialising the repeat), with a causal + padding bias from `attention_mask`; softmax in fp32;
 * - "gqa": ORT's com.microsoft GroupQueryAttention (rotary already applied outside, since M-RoPE is not 1-D). It
 *   applies causality itself; every row is declared T long and `attention_mask` holes (left padding) enter as its
 *   attention_bias input, so both forms compute the same function. ORT's kernel refuses one case: a prefill (S > 1)
 *   on top of a non-empty past with batch > 1; the engine prefills batch 1, and transformers.js prefills from an empty
 *   cache, so neither meets it.
 */
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
   * gqa: [B, 1, S, T] in the graph's float type with padding only (the op applies causality itself).
   */
  readonly bias: Value;
  /** gqa: per-row total length − 1 [B] int32 and the total length T as an int32 scalar. */
  readonly seqlensK: Value | null;
  readonly totalLength: Value | null;
}

/** Lowest fp32 value: torch's mask fill (finfo.min), which keeps fully masked rows finite. */
const MASKED = -3.4028234663852886e38;
/** Lowest fp16 value, for biases stored in fp16 graphs. */
const MASKED_FP16 = -65504;

export function buildAttentionContext(
  g: GraphBuilder,
  kind: AttentionKind,
  attentionMask: Value,
  inputsEmbeds: Value,
): AttentionContext {
  return g.scope("attn_mask", () => {
    const total = g.op1("Shape", [attentionMask], { start: 1, end: 2 }); // [1]
    if (kind === "gqa") {
      // Every row is treated as T long (causality from positions alone); padding comes in through the bias.
      const batch = g.op1("Shape", [attentionMask], { start: 0, end: 1 }); // [1]
      const seq = g.op1("Shape", [inputsEmbeds], { start: 1, end: 2 }); // [1]
      const lastIndex = g.op1("Cast", [g.op1("Sub", [total, g.constInt64([1])])], { to: INT32 }); // [1]
      const seqlensK = g.op1("Expand", [lastIndex, batch]); // [B]
      const totalLength = g.op1("Squeeze", [g.op1("Cast", [total], { to: INT32 }), g.constInt64([0])]);
      const masked = g.floatType === "float16" ? MASKED_FP16 : MASKED;
      const keyValid = g.op1("Unsqueeze", [g.op1("Cast", [attentionMask], { to: BOOL }), g.constInt64([1, 2])]); // [B,1,1,T]
      const rowBias = g.op1("Where", [keyValid, g.constFloat([0], []), g.constFloat([masked], [])]);
      const biasShape = g.op1("Concat", [batch, g.constInt64([1]), seq, total], { axis: 0 });
      const bias = g.op1("Expand", [rowBias, biasShape]); // [B, 1, S, T]
      return { kind, bias, seqlensK, totalLength };
    }
    const zero = g.constInt64([0], []);
    const one = g.constInt64([1], []);
    const totalScalar = g.op1("Squeeze", [total, g.constInt64([0])]); // T
    const seq = g.op1("Squeeze", [g.op1("Shape", [inputsEmbeds], { start: 1, end: 2 }), g.constInt64([0])]); // S
    const past = g.op1("Sub", [totalScalar, seq]); // P = T − S
    // Query i sits at absolute index P + i and may see keys j ≤ P + i whose attention_mask is 1.
    const queryIndex = g.op1("Unsqueeze", [g.op1("Range", [past, totalScalar, one]), g.constInt64([1])]); // [S, 1]
    const keyIndex = g.op1("Unsqueeze", [g.op1("Range", [zero, totalScalar, one]), g.constInt64([0])]); // [1, T]
    const causal = g.op1("LessOrEqual", [keyIndex, queryIndex]); // [S, T]
    const keyValid = g.op1("Unsqueeze", [g.op1("Cast", [attentionMask], { to: BOOL }), g.constInt64([1, 2, 3])]); // [B,1,1,1,T]
    const allowed = g.op1("And", [causal, keyValid]); // [B, 1, 1, S, T]
    const bias = g.op1("Where", [allowed, g.constFloat([0], [], "float32"), g.constFloat([MASKED], [], "float32")]);
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
  shape: AttentionShape,
  q: Value,
  k: Value,
  v: Value,
  pastKey: Value,
  pastValue: Value,
): AttentionResult {
  const { numHeads, numKvHeads, headDim } = shape;
  const scale = 1 / Math.sqrt(headDim);
  if (ctx.kind === "gqa") {
    const flat = (x: Value, heads: number) => g.op1("Reshape", [x, g.constInt64([0, 0, heads * headDim])]);
    const [output, presentKey, presentValue] = g.op(
      "GroupQueryAttention",
      // Inputs 7–9 (cos/sin cache, position_ids) stay empty: rotary was applied outside. Input 10 is attention_bias.
      [flat(q, numHeads), flat(k, numKvHeads), flat(v, numKvHeads), pastKey, pastValue, ctx.seqlensK, ctx.totalLength, null, null, null, ctx.bias],
      { num_heads: numHeads, kv_num_heads: numKvHeads, scale: float(scale) },
      { domain: "com.microsoft", outputs: 3 },
    );
    return { output, presentKey, presentValue };
  }

  const group = numHeads / numKvHeads;
  const toHeadsFirst = (x: Value) => g.op1("Transpose", [x], { perm: [0, 2, 1, 3] }); // [B, N, S, D]
  const presentKey = g.op1("Concat", [pastKey, toHeadsFirst(k)], { axis: 2 }); // [B, kvHeads, T, D]
  const presentValue = g.op1("Concat", [pastValue, toHeadsFirst(v)], { axis: 2 });
  // Query head h uses KV head floor(h / group), as repeat_kv pairs them: split the heads axis into [kvHeads, group]
  // and let MatMul broadcast each KV head over its group instead of materialising the repeat.
  const queries = g.op1("Reshape", [toHeadsFirst(q), g.constInt64([0, numKvHeads, group, -1, headDim])]); // [B,kvH,G,S,D]
  const groupAxis = g.constInt64([2]);
  const keysT = g.op1("Transpose", [g.op1("Unsqueeze", [presentKey, groupAxis])], { perm: [0, 1, 2, 4, 3] }); // [B,kvH,1,D,T]
  const scores = g.op1("Mul", [g.op1("MatMul", [queries, keysT]), g.constFloat([scale], [])]); // [B, kvH, G, S, T]
  const scores32 = g.floatType === "float16" ? g.op1("Cast", [scores], { to: FLOAT }) : scores;
  const probs32 = g.op1("Softmax", [g.op1("Add", [scores32, ctx.bias])], { axis: -1 });
  const probs = g.floatType === "float16" ? g.op1("Cast", [probs32], { to: FLOAT16 }) : probs32;
  const context = g.op1("MatMul", [probs, g.op1("Unsqueeze", [presentValue, groupAxis])]); // [B, kvH, G, S, D]
  const perHead = g.op1("Reshape", [context, g.constInt64([0, numHeads, -1, headDim])]); // [B, numHeads, S, D]
  const bsnd = g.op1("Transpose", [perHead], { perm: [0, 2, 1, 3] });
  const output = g.op1("Reshape", [bsnd, g.constInt64([0, 0, numHeads * headDim])]);
  return { output, presentKey, presentValue };
}
