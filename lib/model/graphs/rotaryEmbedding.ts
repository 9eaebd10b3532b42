/**
 * The two forms of applying a rotary embedding, x·cos + rotate_half(x)·sin with rotate_half(x) = cat(−x2, x1):
 * - "plain": standard ONNX ops (Split, Concat, Mul, Mul, Add), the readable reference;
 * - "fused": one ORT com.microsoft RotaryEmbedding node per tensor (CPU and WebGPU kernels, float32 and float16)
 *   instead of five or six small ones (what that saves, measured: graphs/decoder.ts, DEFAULT_DECODER_OPTIONS).
 * The op indexes `cos_cache`/`sin_cache` [maxPos, D/2] by `position_ids` and repeats the row over both halves of each
 * head (interleaved = 0 is rotate_half). Qwen's angles are per token (M-RoPE, 2-D vision positions), not a function of
 * one position, so the callers pass the per-token tables themselves as the caches, row r for the r-th token.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";

/** The forms a bundle can be built with (`convert --rotary`, vlcache.json `rotary`). */
export const ROTARY_KINDS = ["plain", "fused"] as const;
export type RotaryKind = (typeof ROTARY_KINDS)[number];

/** What bundles use in both graphs; the plain form is the reference the tests hold the fused one to. */
export const DEFAULT_ROTARY: RotaryKind = "fused";

/**
 * RotaryEmbedding on x [B, S, heads·D] → [B, S, heads·D]. positionIds [B, S] int64 give each token's cache row, or
 * [1] = [o] gives token s of every batch row the row o + s (ORT's two accepted forms, on CPU and WebGPU alike).
 */
export function fusedRotary(g: GraphBuilder, x: Value, positionIds: Value, cosCache: Value, sinCache: Value): Value {
  return g.op1(
    "RotaryEmbedding",
    [x, positionIds, cosCache, sinCache],
    { interleaved: 0 },
    { domain: "com.microsoft" },
  );
}
