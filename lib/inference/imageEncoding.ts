import { preprocessImage } from "@/lib/images/preprocess/preprocessImage";
import type { RgbImage } from "@/lib/images/preprocess/resizeImage";
import { visionEncoderRuns } from "@/lib/metrics/cacheMetrics";
import type { DeviceImageFeatures, ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { ImageGrid } from "@/lib/model/positions/mrope";
import { timeStage } from "@/lib/stageTimes";
import type { InferenceModel } from "./inferenceModel";

export interface EncodedImage<F = ImageFeatures> {
  readonly features: F;
  readonly preprocessMs: number;
  readonly visionMs: number;
}

/**
 * Canonical pixels → vision features of one image: the model's preprocessing (smart resize, normalise, patchify),
 * then one vision-encoder run. What the features seam's `compute` does in a request, and what an upload-time
 * precompute (L1) must do too, so both produce the same features for the same image. Counts
 * `vlcache_vision_encoder_runs_total` once per call.
 */
export function encodeImage(model: InferenceModel, pixels: RgbImage): Promise<EncodedImage> {
  return encodeWith(model, pixels, async (pixelValues, grid) => {
    const [features] = await model.engine.encodeImages(pixelValues, [grid]);
    return features;
  });
}

/**
 * The same, with the features left where the encoder put them (Engine.encodeImageOnDevice): for a request's prefill,
 * which then owns them; `model.engine.downloadImageFeatures` gives what `encodeImage` gives.
 */
export function encodeImageOnDevice(
  model: InferenceModel,
  pixels: RgbImage,
): Promise<EncodedImage<DeviceImageFeatures>> {
  return encodeWith(model, pixels, (pixelValues, grid) => model.engine.encodeImageOnDevice(pixelValues, grid));
}

async function encodeWith<F>(
  model: InferenceModel,
  pixels: RgbImage,
  encode: (pixelValues: Float32Array, grid: ImageGrid) => Promise<F>,
): Promise<EncodedImage<F>> {
  const preprocessStart = performance.now();
  // The pixels were size-checked when the image was accepted; the preprocessor's own input bound must not refuse them.
  const input = await timeStage("preprocess", () =>
    preprocessImage({ kind: "rgb", image: pixels }, model.preprocessor, {
      maxInputPixels: pixels.width * pixels.height,
    }),
  );
  const visionStart = performance.now();
  const features = await encode(input.pixelValues, input.grid);
  visionEncoderRuns.inc();
  return { features, preprocessMs: visionStart - preprocessStart, visionMs: performance.now() - visionStart };
}
