import { preprocessImage, preprocessToPixelImage } from "@/lib/images/preprocess/preprocessImage";
import type { RgbImage } from "@/lib/images/preprocess/resizeImage";
import { visionEncoderRuns } from "@/lib/metrics/cacheMetrics";
import type { DeviceImageFeatures, ImageFeatures } from "@/lib/model/engine/imageFeatures";
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
  return encodeWith(
    () => preprocessImage({ kind: "rgb", image: pixels }, model.preprocessor, inputBound(pixels)),
    async (input) => (await model.engine.encodeImages(input.pixelValues, [input.grid]))[0],
  );
}

/**
 * The same, with the features left where the encoder put them (Engine.encodeImageOnDevice), for a request's prefill,
 * which then owns them; `model.engine.downloadImageFeatures` gives what `encodeImage` gives. The image is cut into
 * patches on the device: it goes up as [H, W, 3] values, half the patches' bytes.
 */
export function encodeImageOnDevice(
  model: InferenceModel,
  pixels: RgbImage,
): Promise<EncodedImage<DeviceImageFeatures>> {
  return encodeWith(
    () => preprocessToPixelImage({ kind: "rgb", image: pixels }, model.preprocessor, inputBound(pixels)),
    (image) => model.engine.encodeImageOnDevice(image, image.grid),
  );
}

/** The pixels were size-checked when the image was accepted; the preprocessor's own input bound must not refuse them. */
function inputBound(pixels: RgbImage): { maxInputPixels: number } {
  return { maxInputPixels: pixels.width * pixels.height };
}

async function encodeWith<I, F>(
  preprocess: () => Promise<I>,
  encode: (input: I) => Promise<F>,
): Promise<EncodedImage<F>> {
  const preprocessStart = performance.now();
  const input = await timeStage("preprocess", preprocess);
  const visionStart = performance.now();
  const features = await encode(input);
  visionEncoderRuns.inc();
  return { features, preprocessMs: visionStart - preprocessStart, visionMs: performance.now() - visionStart };
}
