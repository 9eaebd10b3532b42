/** Why an image cannot be turned into model input. `invalid_preprocessor_config` is the bundle's fault (500); the
 *  other codes describe the image a user sent (4xx). */
export type ImagePreprocessErrorCode =
  | "image_too_large"
  | "image_too_small"
  | "aspect_ratio_too_extreme"
  | "invalid_image"
  | "invalid_preprocessor_config";

const STATUS: Record<ImagePreprocessErrorCode, number> = {
  image_too_large: 413,
  image_too_small: 422,
  aspect_ratio_too_extreme: 422,
  invalid_image: 400,
  invalid_preprocessor_config: 500,
};

export class ImagePreprocessError extends Error {
  readonly status: number;
  constructor(
    readonly code: ImagePreprocessErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ImagePreprocessError";
    this.status = STATUS[code];
  }
}
