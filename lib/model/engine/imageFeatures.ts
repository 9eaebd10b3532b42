import * as ort from "onnxruntime-node";
import type { Qwen3VLConfig } from "@/lib/model/config";
import { fromFloat16Array } from "@/lib/model/onnx/float16";
import { imageTokenCount, type ImageGrid } from "@/lib/images/preprocess/imageGrid";
import { timeStage } from "@/lib/stageTimes";
import { EngineInputError } from "./errors";

/**
 * Visual features of ONE image, the unit the L1 vision cache stores and the decoder consumes:
 * `features` [tokens, H] replaces the image's `<|image_pad|>` embeddings; `deepstack` [nDeepstack, tokens, H] is
 * added after the first nDeepstack decoder layers (null for models without DeepStack). Always fp32 here, whatever the
 * bundle's dtype; tokens = t·(h/m)·(w/m) of the image's grid.
 */
export interface ImageFeatures {
  readonly grid: ImageGrid;
  readonly tokens: number;
  readonly hidden: number;
  readonly features: Float32Array;
  readonly deepstack: Float32Array | null;
}

/**
 * The same features as an image's encoder outputs kept as tensors where the vision session left them (device memory on
 * a provider that keeps outputs there, see executionProvider.ts), in the bundle's float type, never read from JS:
 * prefill consumes them through a small graph on the same provider (featureOps.ts), and `FeatureOps.download` makes
 * the ImageFeatures that L1 stores. Whoever receives one owns its tensors and frees them once with
 * `releaseDeviceImageFeatures`.
 */
export interface DeviceImageFeatures {
  readonly grid: ImageGrid;
  readonly tokens: number;
  readonly hidden: number;
  /** [tokens, H] */
  readonly features: ort.Tensor;
  /** [nDeepstack, tokens, H], null for models without DeepStack. */
  readonly deepstack: ort.Tensor | null;
}

/** What prefill takes for one image: features in host memory (L1, the host path) or left on the device. */
export type PrefillImage = ImageFeatures | DeviceImageFeatures;

export function isDeviceImageFeatures(image: PrefillImage): image is DeviceImageFeatures {
  return !(image.features instanceof Float32Array);
}

/** Device features given out by `trackDeviceImageFeatures` and not yet released: what must return to zero. */
const liveDevice = new WeakSet<DeviceImageFeatures>();
let liveDeviceCount = 0;

/** Counts `image` as live until `releaseDeviceImageFeatures` (Engine.encodeImageOnDevice does this). */
export function trackDeviceImageFeatures(image: DeviceImageFeatures): DeviceImageFeatures {
  liveDevice.add(image);
  liveDeviceCount += 1;
  return image;
}

/** Disposes the tensors of `image`, exactly once; releasing it again (or an untracked one) does nothing. */
export function releaseDeviceImageFeatures(image: DeviceImageFeatures): void {
  if (!liveDevice.delete(image)) return;
  liveDeviceCount -= 1;
  image.features.dispose();
  image.deepstack?.dispose();
}

/** How many encoded images' device features are alive (0 between requests: nothing leaks on the device). */
export function liveDeviceImageFeatures(): number {
  return liveDeviceCount;
}

/** A host tensor's values as fp32 (fp16 widened exactly). */
export function hostFloats(tensor: ort.Tensor): Float32Array {
  if (tensor.type === "float32") return tensor.data as Float32Array;
  if (tensor.type === "float16") return fromFloat16Array(tensor.data as Uint16Array);
  throw new Error(`vision encoder returned ${tensor.type}, expected float32 or float16`);
}

/** The vision encoder's outputs for several images, merged in image order, where the session left them. */
export interface VisionOutputs {
  /** [Σ tokens, H] */
  readonly features: ort.Tensor;
  /** [nDeepstack, Σ tokens, H], null without DeepStack. */
  readonly deepstack: ort.Tensor | null;
}

/** Values per patch row of `pixel_values`: C·T·P·P. */
export function patchRowSize(cfg: Qwen3VLConfig): number {
  const v = cfg.vision;
  return v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
}

/**
 * Runs the vision encoder on the patches of several images at once (`pixel_values` [Σ t·h·w, C·T·P·P], images in
 * order; host values, or a tensor already where the session runs); null for no images. Attention inside the encoder
 * is per image, so encoding images together or one by one gives the same features.
 */
export async function runVisionEncoder(
  session: ort.InferenceSession,
  cfg: Qwen3VLConfig,
  pixelValues: Float32Array | ort.Tensor,
  grids: readonly ImageGrid[],
): Promise<VisionOutputs | null> {
  const merge = cfg.vision.spatialMergeSize;
  for (const grid of grids) {
    const ok =
      [grid.t, grid.h, grid.w].every((d) => Number.isInteger(d) && d > 0) &&
      grid.h % merge === 0 &&
      grid.w % merge === 0;
    if (!ok)
      throw new EngineInputError(
        "bad_image_grid",
        `image grid (${grid.t}, ${grid.h}, ${grid.w}) is not a positive grid divisible by ${merge}`,
      );
  }
  const patches = grids.reduce((sum, g) => sum + g.t * g.h * g.w, 0);
  const row = patchRowSize(cfg);
  const values = pixelValues instanceof Float32Array ? pixelValues.length : pixelValues.size;
  if (values !== patches * row) {
    throw new EngineInputError(
      "bad_pixel_values",
      `pixel_values holds ${values} values; the grids need ${patches} patches × ${row} = ${patches * row}`,
    );
  }
  if (grids.length === 0) return null;
  const outputs = await timeStage("vision", () =>
    session.run({
      pixel_values:
        pixelValues instanceof Float32Array ? new ort.Tensor("float32", pixelValues, [patches, row]) : pixelValues,
      image_grid_thw: new ort.Tensor(
        "int64",
        BigInt64Array.from(
          grids.flatMap((g) => [g.t, g.h, g.w]),
          BigInt,
        ),
        [grids.length, 3],
      ),
    }),
  );
  const features = outputs.image_features as ort.Tensor;
  const expected = grids.reduce((sum, g) => sum + imageTokenCount(g, merge), 0);
  if (features.dims[0] !== expected)
    throw new Error(`vision encoder returned ${features.dims[0]} tokens, the grids need ${expected}`);
  const deepstack = cfg.vision.deepstackVisualIndexes.length > 0 ? (outputs.deepstack_features as ort.Tensor) : null;
  return { features, deepstack };
}

/** Host copies of merged encoder outputs ([Σ tokens, H] and [nDeepstack, Σ tokens, H]) split per image. */
export function splitImageFeatures(
  cfg: Qwen3VLConfig,
  grids: readonly ImageGrid[],
  merged: Float32Array,
  deepstackAll: Float32Array | null,
): ImageFeatures[] {
  const hidden = cfg.text.hiddenSize;
  const merge = cfg.vision.spatialMergeSize;
  const deepstackCount = cfg.vision.deepstackVisualIndexes.length;
  const totalTokens = merged.length / hidden;
  const result: ImageFeatures[] = [];
  let offset = 0;
  for (const grid of grids) {
    const tokens = imageTokenCount(grid, merge);
    const features = merged.slice(offset * hidden, (offset + tokens) * hidden);
    let deepstack: Float32Array | null = null;
    if (deepstackAll) {
      deepstack = new Float32Array(deepstackCount * tokens * hidden);
      for (let l = 0; l < deepstackCount; l++) {
        const from = (l * totalTokens + offset) * hidden;
        deepstack.set(deepstackAll.subarray(from, from + tokens * hidden), l * tokens * hidden);
      }
    }
    result.push({ grid, tokens, hidden, features, deepstack });
    offset += tokens;
  }
  if (offset !== totalTokens)
    throw new Error(`vision encoder returned ${totalTokens} tokens, the grids need ${offset}`);
  return result;
}
