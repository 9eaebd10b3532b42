/**
 * One image as a served model and its caches know it: its feature identity (the image, this model's preprocessing,
 * the features seam's storage dtype) and its patch grid (from its size alone). A request's plan (generationPlan.ts)
 * and an upload's precompute (modelCaches.ts) both come through here, so a precompute always lands under the key a
 * later request looks up.
 */

import type { FeatureDtype } from "@/lib/cache/featureRecord";
import { featureKey, type FeatureIdentity, type FeatureKey } from "@/lib/cache/featureIdentity";
import type { ImageId } from "@/lib/ids";
import { planImage, type ImageGrid } from "@/lib/images/preprocess/imageGrid";
import type { InferenceModel } from "./inferenceModel";

export interface ModelImage {
  readonly identity: FeatureIdentity;
  /** `featureKey(identity)`. */
  readonly key: FeatureKey;
  readonly grid: ImageGrid;
}

export function imageFeatureIdentity(
  model: Pick<InferenceModel, "preprocessDigest">,
  storage: FeatureDtype,
  imageId: ImageId,
): FeatureIdentity {
  return { imageId, preprocess: model.preprocessDigest, storage };
}

/**
 * The patch grid of an image of this size; throws the preprocessor's ImagePreprocessError for a size this model cannot
 * take (e.g. below its patch grid).
 */
export function modelImageGrid(model: Pick<InferenceModel, "preprocessor">, width: number, height: number): ImageGrid {
  return planImage(width, height, model.preprocessor).grid;
}

/** An image whose grid is known (from its size) once its id is known (for bytes sent in a request: after decoding). */
export function identifiedModelImage(
  model: Pick<InferenceModel, "preprocessDigest">,
  storage: FeatureDtype,
  imageId: ImageId,
  grid: ImageGrid,
): ModelImage {
  const identity = imageFeatureIdentity(model, storage, imageId);
  return { identity, key: featureKey(identity), grid };
}

/** Throws the preprocessor's ImagePreprocessError for a size this model cannot take (e.g. below its patch grid). */
export function modelImage(
  model: Pick<InferenceModel, "preprocessDigest" | "preprocessor">,
  storage: FeatureDtype,
  image: { readonly imageId: ImageId; readonly width: number; readonly height: number },
): ModelImage {
  return identifiedModelImage(model, storage, image.imageId, modelImageGrid(model, image.width, image.height));
}
