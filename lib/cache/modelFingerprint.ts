/**
 * The model fingerprint every model-dependent cache key carries (keys.ts): one SHA-256 over everything that can change
 * vision features, KV or answers for the same request.
 *
 * - `sourceFingerprint`: the bundle's vlcache.json value, a SHA-256 over the checkpoint's weights;
 * - `dtype` and `converterVersion`: an fp16 bundle, or graphs built by another converter, compute slightly different
 *   numbers from the same weights;
 * - `graphForm`: the converter's options that build other graphs from the same weights and dtype — the rotary
 *   embedding's form, an fp16 bundle's parts computed in float32 (vlcache.json `rotary`, `float32Compute`) — which
 *   differ from each other in the last bits;
 * - `preprocessor`: the preprocessing parameters (resize bounds, mean/std, patch sizes) as the app parsed them;
 * - `chatTemplate`: the template text, which decides the prompt tokens a conversation turns into.
 *
 * Defined once, here, so the pipeline, the upload precompute and a second process sharing Redis all derive the same
 * value from the same bundle. Pure: the caller reads the files.
 */

import { digestJson, type JsonValue } from "@/lib/cache/canonicalJson";
import type { ModelFingerprint } from "@/lib/ids";

export interface ModelFingerprintInput {
  readonly sourceFingerprint: string;
  readonly dtype: string;
  readonly converterVersion: string;
  readonly graphForm: JsonValue;
  readonly preprocessor: JsonValue;
  readonly chatTemplate: string;
}

/** Bumped when what goes into the fingerprint changes, so older entries stop matching. */
const FINGERPRINT_VERSION = 2;

export function modelFingerprint(input: ModelFingerprintInput): ModelFingerprint {
  if (!/^[0-9a-f]{64}$/.test(input.sourceFingerprint)) {
    throw new RangeError(
      `modelFingerprint: sourceFingerprint must be 64 lowercase hex characters, got "${input.sourceFingerprint}"`,
    );
  }
  return digestJson({
    version: FINGERPRINT_VERSION,
    weights: input.sourceFingerprint,
    dtype: input.dtype,
    converterVersion: input.converterVersion,
    graphForm: input.graphForm,
    preprocessor: input.preprocessor,
    chatTemplate: input.chatTemplate,
  }) as string as ModelFingerprint;
}
