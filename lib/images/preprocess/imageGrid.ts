import type { PreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";
import { ImagePreprocessError } from "@/lib/images/preprocess/errors";
import { smartResize } from "@/lib/images/preprocess/smartResize";

/** An image's patch grid as the model sees it, before spatial merging: t temporal × h × w patches (t = 1 for a still
 *  image). The reference calls it `image_grid_thw`; each row of that [images, 3] tensor is [t, h, w]. */
export interface ImageGrid {
  readonly t: number;
  readonly h: number;
  readonly w: number;
}

export interface ImagePlan {
  /** Size after smart_resize (equal to the input when do_resize is off). */
  resizedWidth: number;
  resizedHeight: number;
  grid: ImageGrid;
}

/**
 * Everything about an image's model input that follows from its size alone: the resized size and the patch grid.
 * The prompt needs the grid (it fixes the number of image tokens) even when the vision features come from a cache and
 * the pixels are never preprocessed, so this is kept apart from the pixel work.
 */
export function planImage(width: number, height: number, config: PreprocessorConfig): ImagePlan {
  const factor = config.patchSize * config.mergeSize;
  let resizedHeight = height;
  let resizedWidth = width;
  if (config.doResize) {
    [resizedHeight, resizedWidth] = smartResize(height, width, factor, config.minPixels, config.maxPixels);
  } else if (height % factor !== 0 || width % factor !== 0) {
    throw new ImagePreprocessError(
      "invalid_image",
      `image is ${width}×${height}; without resizing both sides must be multiples of ${factor}`,
    );
  }
  return {
    resizedWidth,
    resizedHeight,
    grid: { t: 1, h: resizedHeight / config.patchSize, w: resizedWidth / config.patchSize },
  };
}

/** Number of `<|image_pad|>` tokens an image occupies: its patches after the merge_size × merge_size merger. */
export function imageTokenCount(grid: ImageGrid, mergeSize: number): number {
  return (grid.t * grid.h * grid.w) / (mergeSize * mergeSize);
}
