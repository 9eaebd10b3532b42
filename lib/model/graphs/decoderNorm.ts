/**
 * RMSNorm (transformers' Qwen3VLTextRMSNorm) and the residual stream of the decoder, in two interchangeable forms:
 * - "plain": standard ONNX ops; the statistics are computed in fp32 even in fp16 graphs, as the PyTorch module does;
 * - "fused": ORT's SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization (fp32 statistics inside), which
 *   also fold the residual add into the following norm.
 * Either way, a float16 graph whose Float32Compute widens norms computes the whole norm (residual add, normalised
 * value, scale multiply) in fp32 and rounds once at the end.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { float } from "@/lib/model/onnx/graphBuilder";
import { add, cast, computeIn, mul, reduceMean, rmsNorm as fusedRmsNorm, sqrt, weightIn } from "@/lib/model/onnx/ops";

export type NormKind = "plain" | "fused";

/** RMSNorm over the last axis: weight · x / sqrt(mean(x²) + eps), `weightName` the checkpoint's scale. */
export function rmsNorm(g: GraphBuilder, kind: NormKind, x: Value, weightName: string, eps: number): Value {
  if (kind === "fused") return fusedRmsNorm(g, x, weightName, eps);
  return computeIn(g, "norms", [x], ([x], type) => {
    const x32 = type === "float16" ? cast(g, x, "float32") : x;
    const variance = reduceMean(g, mul(g, x32, x32), [-1]);
    const inverseRms = g.op1("Reciprocal", [sqrt(g, add(g, variance, g.constFloat([eps], [], "float32")))]);
    const normalized = mul(g, x32, inverseRms);
    return [mul(g, weightIn(g, weightName, type), type === "float16" ? cast(g, normalized, "float16") : normalized)];
  })[0];
}

/**
 * The hidden state h [B, S, H] between sub-blocks, always in the graph's float type. `add(delta)` records h + delta
 * without computing it, so the fused kind can compute the sum inside the next norm (SkipSimplifiedLayerNormalization
 * returns the sum as its 4th output). Invariant: at most one delta is pending; `hidden()` materialises it.
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
  norm(weightName: string, eps: number): Value {
    const pending = this.pending;
    if (this.kind === "fused" && pending) {
      const g = this.g;
      const [normed, sum] = computeIn(g, "norms", [pending, this.base], ([delta, base], type) => {
        const [out, , , total] = g.op(
          "SkipSimplifiedLayerNormalization",
          [delta, base, weightIn(g, weightName, type)],
          { epsilon: float(eps) },
          { domain: "com.microsoft", outputs: 4 },
        );
        return [out, total];
      });
      this.base = sum;
      this.pending = null;
      return normed;
    }
    return rmsNorm(this.g, this.kind, this.hidden(), weightName, eps);
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
