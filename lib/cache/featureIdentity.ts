import type { Brand, ImageId } from "@/lib/ids";
import { digestJson, type Digest, type JsonValue } from "@/lib/cache/canonicalJson";
import type { FeatureDtype } from "@/lib/cache/featureRecord";

/**
 * What one image's vision features are known by in every cache level: the image, how it was preprocessed and how the
 * features were stored, and the string form of that (`featureKey`) used in L1 keys, L2 key tokens and L3 digests.
 * Pure values, no I/O; keys.ts places feature keys into store keys.
 */
/** Digest of the image preprocessing parameters (resize bounds, patch and merge sizes, mean/std …). */
export type PreprocessDigest = Brand<Digest, "PreprocessDigest">;

export function preprocessDigest(params: JsonValue): PreprocessDigest {
  return digestJson(params) as PreprocessDigest;
}

/**
 * What an image's vision features depend on besides the model: its pixels, how they were preprocessed and how the
 * features were stored (fp16 and int8 records decode to slightly different numbers than fp32, so they must not be
 * served where fp32 was asked for, nor share KV built from fp32 features).
 */
export interface FeatureIdentity {
  readonly imageId: ImageId;
  readonly preprocess: PreprocessDigest;
  readonly storage: FeatureDtype;
}

/** `<imageId>:<preprocess digest>:<storage dtype>`: one image's features, across L1, L2 image tokens and L3 digests. */
export type FeatureKey = Brand<string, "FeatureKey">;

export function featureKey(identity: FeatureIdentity): FeatureKey {
  return `${identity.imageId}:${identity.preprocess}:${identity.storage}` as FeatureKey;
}
