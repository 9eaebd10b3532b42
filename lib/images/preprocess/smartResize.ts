import { ImagePreprocessError } from "@/lib/images/preprocess/errors";

/** Python's round(): halves go to the even neighbour (round(2.5) = 2), unlike Math.round. smart_resize depends on it,
 *  e.g. a height of 80 with factor 32 gives 64 there, not 96. */
export function roundHalfToEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Aspect ratios beyond this are refused by the reference processor. */
export const MAX_ASPECT_RATIO = 200;

/**
 * transformers' `smart_resize` (models/qwen2_vl/image_processing_qwen2_vl.py), step for step: the output size
 * [height, width] keeps the aspect ratio as closely as possible while
 *   1. both sides are multiples of `factor` (= patch_size × merge_size), and
 *   2. height × width lies within [minPixels, maxPixels].
 * Sides are first rounded to the nearest multiple; if the area is then too large the image is scaled down by
 * beta = sqrt(area / maxPixels) and floored to multiples, if too small scaled up and ceiled.
 */
export function smartResize(
  height: number,
  width: number,
  factor: number,
  minPixels: number,
  maxPixels: number,
): [height: number, width: number] {
  if (height < factor || width < factor) {
    throw new ImagePreprocessError(
      "image_too_small",
      `image is ${width}×${height}; both sides must be at least ${factor} pixels`,
    );
  }
  const ratio = Math.max(height, width) / Math.min(height, width);
  if (ratio > MAX_ASPECT_RATIO) {
    throw new ImagePreprocessError(
      "aspect_ratio_too_extreme",
      `image is ${width}×${height}; the aspect ratio must be at most ${MAX_ASPECT_RATIO}, got ${ratio.toFixed(1)}`,
    );
  }
  let hBar = roundHalfToEven(height / factor) * factor;
  let wBar = roundHalfToEven(width / factor) * factor;
  if (hBar * wBar > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    // max(factor, ·) as in newer transformers: a tiny max_pixels must not produce a zero side.
    hBar = Math.max(factor, Math.floor(height / beta / factor) * factor);
    wBar = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (hBar * wBar < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    hBar = Math.ceil((height * beta) / factor) * factor;
    wBar = Math.ceil((width * beta) / factor) * factor;
  }
  return [hBar, wBar];
}
