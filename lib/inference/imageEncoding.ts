import { preprocessImage } from "@/lib/images/preprocess/preprocessImage";
import type { RgbImage } from "@/lib/images/preprocess/resizeImage";
import { visionEncoderRuns } from "@/lib/metrics/cacheMetrics";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { InferenceModel } from "./inferenceModel";

export interface EncodedImage {
  readonly features: ImageFeatures;
  readonly preprocessMs: number;
  readonly visionMs: number;
}

/**
 * Canonical pixels → vision features of one image: the model's preprocessing (smart resize, normalise, patchify),
 * then one vision-encoder run. What the features seam's `compute` does in a request, and what an upload-time
 * precompute (L1) must do too, so both produce the same features for the same image. Counts
 * `vlcache_vision_encoder_runs_total` once per call.
 */
export async function encodeImage(model: InferenceModel, pixels: RgbImage): Promise<EncodedImage> {
  const preprocessStart = performance.now();
  // The pixels were size-checked when the image was accepted; the preprocessor's own input bound must not refuse them.
  const input = await preprocessImage({ kind: "rgb", image: pixels }, model.preprocessor, {
    maxInputPixels: pixels.width * pixels.height,
  });
  const visionStart = performance.now();
  const [features] = await model.engine.encodeImages(input.pixelValues, [input.grid]);
  visionEncoderRuns.inc();
  return { features, preprocessMs: visionStart - preprocessStart, visionMs: performance.now() - visionStart };
}
