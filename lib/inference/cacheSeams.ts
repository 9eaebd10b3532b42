/**
 * The three places where the cache levels enter the generation pipeline. The pipeline calls them at fixed points and
 * trusts their answers; what is cached, where, and for how long is entirely theirs. The pass-through implementations
 * below cache nothing, so the pipeline is complete without any cache.
 *
 *   (c) responses.lookup  ── before anything is computed; a hit is streamed instead of generating
 *   (b) prefix.lookup     ── after the request holds the engine; prefill then starts after the reused prefix
 *   (a) features.getFeatures ── once per distinct image; not required for an image inside the reused prefix
 *   (b) prefix.insert     ── after decoding ends normally, with the KV of prompt + generated tokens
 *   (c) responses.store   ── after a deterministic request ends normally
 *
 * Every call gets the request's SeamContext; `flags` are the request's per-level switches, which the seams honour
 * (a level switched off is neither read nor written). Seams must not throw for cache trouble (a broken entry is a
 * miss); an exception from a seam fails the request.
 */

import type { FeatureDtype } from "@/lib/cache/featureRecord";
import type { FeatureIdentity, FeatureKey } from "@/lib/cache/featureIdentity";
import type { PrefixKey } from "@/lib/cache/prefixKey";
import type { ResolvedGenerationParams } from "@/lib/cache/responseIdentity";
import type { ResponseRecord } from "@/lib/cache/responseRecord";
import type { ModelFingerprint, TenantId } from "@/lib/ids";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import { releaseKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";
import type { FeatureSource, PrefixTier, ResponseCacheResult } from "./events";
import type { CacheFlags } from "./request";

export interface SeamContext {
  readonly tenant: TenantId;
  readonly model: ModelFingerprint;
  readonly flags: CacheFlags;
  /** Aborted when the request is cancelled; long seam work (waiting on another process's encode) may stop early. */
  readonly signal: AbortSignal;
}

// (a) ─ image features ───────────────────────────────────────────────────────────────────────────────────────────

export interface FeatureRequest {
  readonly identity: FeatureIdentity;
  /** `featureKey(identity)`, the image's name in L1 keys, L2 key tokens and L3 identities. */
  readonly key: FeatureKey;
  readonly grid: ImageGrid;
  /**
   * False when the request's reused KV prefix (b) already covers every token of this image: prefill never reads its
   * features, so the seam serves them only if it has them at hand and must not compute them.
   */
  readonly required: boolean;
}

export interface FeatureResult {
  /** Must be exactly what `compute` would return after a round trip through the seam's storage dtype. */
  readonly features: ImageFeatures;
  readonly source: FeatureSource;
}

export interface FeatureSeam {
  /**
   * The dtype features are served in; part of every image's FeatureIdentity, so answers and KV built from fp16
   * features are never mixed with fp32 ones. A seam that stores fp16 must also return freshly computed features
   * rounded to fp16, or the first (computed) answer would differ from later (cached) ones.
   */
  readonly storage: FeatureDtype;
  /**
   * The features of one image; `compute` preprocesses the image and runs the vision encoder (source "computed").
   * Null only for an image that is not `required` and not cached.
   */
  getFeatures(
    image: FeatureRequest,
    compute: () => Promise<ImageFeatures>,
    ctx: SeamContext,
  ): Promise<FeatureResult | null>;
}

// (b) ─ prefix KV ────────────────────────────────────────────────────────────────────────────────────────────────

export interface PrefixHit {
  /** KV of the first `length` prompt positions; owned by the seam (the pipeline only reads it as `past`). */
  readonly kv: KvCache;
  /** = kv.length, > 0. */
  readonly length: number;
  /** Which L2 tier served it (reported in the meta event). */
  readonly tier: PrefixTier;
  /** Called once the pipeline no longer reads `kv` (right after prefill, or when the request fails or is cancelled). */
  release(): void;
}

export interface PrefixSeam {
  /**
   * The longest cached prefix of `key`. The pipeline passes the prompt's key tokens WITHOUT the last one, because it
   * needs that token's logits and a cached prefix holds KV, not logits; so `length < prompt length` always holds.
   */
  lookup(key: PrefixKey, ctx: SeamContext): Promise<PrefixHit | null>;
  /**
   * Offers the KV of `key` (prompt key tokens followed by the generated token ids fed to the decoder; key.length ===
   * kv.length). Takes ownership of `kv`: the seam keeps it or releases it (releaseKvCache), the pipeline never touches
   * it again.
   */
  insert(key: PrefixKey, kv: KvCache, ctx: SeamContext): void;
}

// (c) ─ whole responses ──────────────────────────────────────────────────────────────────────────────────────────

export type ResponsePart =
  { readonly type: "text"; readonly text: string } | { readonly type: "image"; readonly feature: FeatureIdentity };

/** Everything a deterministic request's answer depends on. Only deterministic requests (greedy, or seeded) reach L3. */
export interface ResponseRequest {
  /** The conversation, parts in order, each image named by its feature identity. */
  readonly messages: readonly {
    readonly role: "system" | "user" | "assistant";
    readonly parts: readonly ResponsePart[];
  }[];
  readonly params: ResolvedGenerationParams & { readonly repetitionPenalty: number; readonly stop: readonly string[] };
  /** The exact prompt: token ids, image tokens as feature-key tokens (prefixKey.ts). */
  readonly promptKey: PrefixKey;
}

/** A stored answer: the tokens the model generated (the stopping EOS included) and what was reported for them. */
export type StoredAnswer = Pick<ResponseRecord, "tokens" | "text" | "finishReason" | "usage">;

export type ResponseLookup =
  | { readonly result: Extract<ResponseCacheResult, "hit">; readonly answer: StoredAnswer }
  | { readonly result: Exclude<ResponseCacheResult, "hit"> };

export interface ResponseSeam {
  /** "bypass" when this seam does not serve the request (L3 off, switched off by the flags, …). */
  lookup(request: ResponseRequest, ctx: SeamContext): Promise<ResponseLookup>;
  /** After a deterministic request finished with "stop" or "length" (never after a cancellation). */
  store(request: ResponseRequest, answer: StoredAnswer, ctx: SeamContext): Promise<void>;
}

export interface CacheSeams {
  readonly features: FeatureSeam;
  readonly prefix: PrefixSeam;
  readonly responses: ResponseSeam;
}

export const passThroughFeatures: FeatureSeam = {
  storage: "fp32",
  async getFeatures(image, compute) {
    return image.required ? { features: await compute(), source: "computed" } : null;
  },
};

export const passThroughPrefix: PrefixSeam = {
  async lookup() {
    return null;
  },
  insert(_key, kv) {
    releaseKvCache(kv);
  },
};

export const passThroughResponses: ResponseSeam = {
  async lookup() {
    return { result: "bypass" };
  },
  async store() {},
};

export const passThroughSeams: CacheSeams = {
  features: passThroughFeatures,
  prefix: passThroughPrefix,
  responses: passThroughResponses,
};
