import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { float } from "@/lib/model/onnx/graphBuilder";
import { add, cast, mul, reduceMean, rmsNorm as fusedRmsNorm, sqrt } from "@/lib/model/onnx/ops";

/**
 * RMSNorm (transformers' Qwen3VLTextRMSNorm) and the residual stream of the decoder, in two interchangeable forms:
 * - "plain": standard ONNX ops; the statistics are computed in fp32 even in fp16 graphs, then cast back before the
 *   weight multiply, exactly as the PyTorch module does;
 * - "fused": ORT's SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization (fp32 statistics via stash_type),
 *   which also fold the residual add into the following norm.
 */
export type NormKind = "plain" | "fused";

/** RMSNorm over the last axis: weight · x / sqrt(mean(x²) + eps). */
export function rmsNorm(g: GraphBuilder, kind: NormKind, x: Value, weight: Value, eps: number): Value {
  if (kind === "fused") return fusedRmsNorm(g, x, weight, eps);
  const x32 = g.floatType === "float16" ? cast(g, x, "float32") : x;
  const variance = reduceMean(g, mul(g, x32, x32), [-1]);
  const inverseRms = g.op1("Reciprocal", [sqrt(g, add(g, variance, g.constFloat([eps], [], "float32")))]);
  const normalized = mul(g, x32, inverseRms);
  return mul(g, weight, g.floatType === "float16" ? cast(g, normalized, "float16") : normalized);
}

/**
 * The hidden state h [B, S, H] between sub-blocks. `add(delta)` records h + delta without computing it, so the fused
 * kind can compute the sum inside the next norm (SkipSimplifiedLayerNormalization returns the sum as its 4th output).
 * Invariant: at most one delta is pending; `hidden()` materialises it.
 */
export class ResidualStream {
  private base: Value;
  private pending: Value | null = null;

  constructor(
    private readonly g: GraphBuilder,
    private readonly kind: NormKind,
    initial: Value,
  ) {
    this.base = initial;
  }

  add(delta: Value): void {
    if (this.pending) this.hidden();
    this.pending = delta;
  }

  /** RMSNorm of the current hidden state (materialising a pending add on the way). */
  norm(weight: Value, eps: number): Value {
    if (this.kind === "fused" && this.pending) {
      const [normed, , , sum] = this.g.op(
        "SkipSimplifiedLayerNormalization",
        [this.pending, this.base, weight],
        { epsilon: float(eps) },
        { domain: "com.microsoft", outputs: 4 },
      );
      this.base = sum;
      this.pending = null;
      return normed;
    }
    return rmsNorm(this.g, this.kind, this.hidden(), weight, eps);
  }

  hidden(): Value {
    if (this.pending) {
      this.base = add(this.g, this.base, this.pending);
      this.pending = null;
    }
    return this.base;
  }

  /** Replaces the (materialised) hidden state, e.g. after DeepStack adds visual features. */
  replace(value: Value): void {
    if (this.pending) throw new Error("ResidualStream.replace with a pending add; call hidden() first");
    this.base = value;
  }
}
