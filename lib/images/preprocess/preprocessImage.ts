import sharp, { type Metadata, type Sharp } from "sharp";
import { ImagePreprocessError } from "@/lib/images/preprocess/errors";
import { planImage, type ImageGrid } from "@/lib/images/preprocess/imageGrid";
import { patchGrid, patchify, pixelValueImage, pixelValueTable } from "@/lib/images/preprocess/patchify";
import type { PreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";
import { resizeImage, type RgbImage } from "@/lib/images/preprocess/resizeImage";

/** An image to preprocess: already-decoded 8-bit RGB pixels (the canonical form uploads are stored in), or any file
 *  sharp can read. */
export type ImageInput = { kind: "rgb"; image: RgbImage } | { kind: "encoded"; data: Uint8Array };

/** Input images larger than this are refused before decoding: bigger ones only cost memory, since smart_resize scales
 *  everything into the model's pixel budget anyway. */
export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000;

export interface PreprocessOptions {
  maxInputPixels?: number;
}

/** One image as vision-encoder input. */
export interface PreprocessedImage {
  /** [patches, C·T·P·P] f32, rows in merge-window order. */
  pixelValues: Float32Array;
  dims: [patches: number, rowLength: number];
  /** The image's row of `image_grid_thw` [1, 3], as {t, h, w}. */
  grid: ImageGrid;
  resizedWidth: number;
  resizedHeight: number;
}

function checkPixelCount(width: number, height: number, maxInputPixels: number): void {
  if (width * height > maxInputPixels) {
    throw new ImagePreprocessError(
      "image_too_large",
      `image is ${width}×${height} = ${width * height} pixels; at most ${maxInputPixels} are accepted`,
    );
  }
}

/**
 * Decodes a file the way the reference pipeline sees it: EXIF orientation applied (PIL's exif_transpose), embedded
 * ICC profiles ignored (PIL does not convert colour), alpha composited over white and grey expanded to RGB (what
 * transformers' convert_to_rgb does).
 */
async function decodeToRgb(data: Uint8Array, maxInputPixels: number): Promise<RgbImage> {
  let pipeline: Sharp;
  let meta: Metadata;
  try {
    pipeline = sharp(data, { ignoreIcc: true, limitInputPixels: false });
    meta = await pipeline.metadata();
  } catch (error) {
    throw new ImagePreprocessError("invalid_image", `cannot read the image: ${(error as Error).message}`);
  }
  if (meta.width === undefined || meta.height === undefined) {
    throw new ImagePreprocessError("invalid_image", "cannot read the image size");
  }
  checkPixelCount(meta.width, meta.height, maxInputPixels);
  try {
    const { data: pixels, info } = await pipeline
      .rotate()
      .flatten({ background: "#ffffff" })
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length),
      width: info.width,
      height: info.height,
    };
  } catch (error) {
    throw new ImagePreprocessError("invalid_image", `cannot decode the image: ${(error as Error).message}`);
  }
}

function checkRgb(image: RgbImage, maxInputPixels: number): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImagePreprocessError("invalid_image", `image size must be positive integers, got ${width}×${height}`);
  }
  checkPixelCount(width, height, maxInputPixels);
  if (data.length !== width * height * 3) {
    throw new ImagePreprocessError(
      "invalid_image",
      `expected ${width * height * 3} RGB bytes for ${width}×${height}, got ${data.length}`,
    );
  }
}

/** One image normalised but not cut into patches, for a patchify on the GPU (see `pixelValueImage`). */
export interface PixelValueImage {
  /** [height, width, 3] f32. */
  values: Float32Array;
  height: number;
  width: number;
  grid: ImageGrid;
}

/** The input as 8-bit RGB at the size smart_resize plans for it. */
async function resizedRgb(
  input: ImageInput,
  config: PreprocessorConfig,
  options: PreprocessOptions,
): Promise<{ resized: RgbImage; resizedWidth: number; resizedHeight: number }> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  let image: RgbImage;
  if (input.kind === "rgb") {
    checkRgb(input.image, maxInputPixels);
    image = input.image;
  } else {
    image = await decodeToRgb(input.data, maxInputPixels);
  }
  const plan = planImage(image.width, image.height, config);
  const resized =
    plan.resizedWidth === image.width && plan.resizedHeight === image.height
      ? image
      : await resizeImage(image, plan.resizedWidth, plan.resizedHeight);
  return { resized, resizedWidth: plan.resizedWidth, resizedHeight: plan.resizedHeight };
}

/**
 * transformers' Qwen2VLImageProcessor for one image: smart_resize → bicubic resize → rescale → normalise → repeat to
 * temporal_patch_size → patchify. Errors are ImagePreprocessError with a code saying what is wrong.
 */
export async function preprocessImage(
  input: ImageInput,
  config: PreprocessorConfig,
  options: PreprocessOptions = {},
): Promise<PreprocessedImage> {
  const { resized, resizedWidth, resizedHeight } = await resizedRgb(input, config, options);
  const { pixelValues, dims, grid } = patchify(resized.data, resized.height, resized.width, config);
  return { pixelValues, dims, grid, resizedWidth, resizedHeight };
}

/**
 * The same up to the cut into patches (and the temporal repeat): smart_resize → bicubic resize → rescale → normalise,
 * with the image's grid. Patchifying `values` the way `patchify` does gives `preprocessImage`'s pixel values exactly.
 */
export async function preprocessToPixelImage(
  input: ImageInput,
  config: PreprocessorConfig,
  options: PreprocessOptions = {},
): Promise<PixelValueImage> {
  const { resized } = await resizedRgb(input, config, options);
  const { height, width } = resized;
  const grid = patchGrid(height, width, config);
  return { values: pixelValueImage(resized.data, pixelValueTable(config)), height, width, grid };
}
