import { FaultError, type Fault } from "@/lib/fault";

/** Why an image cannot be turned into model input. `invalid_preprocessor_config` is the bundle's fault (the server's);
 *  the other codes describe the image a user sent (the request's). */
export type ImagePreprocessErrorCode =
  "image_too_large" | "image_too_small" | "aspect_ratio_too_extreme" | "invalid_image" | "invalid_preprocessor_config";

const FAULT: Record<ImagePreprocessErrorCode, Fault> = {
  image_too_large: "request",
  image_too_small: "request",
  aspect_ratio_too_extreme: "request",
  invalid_image: "request",
  invalid_preprocessor_config: "server",
};

export class ImagePreprocessError extends FaultError<ImagePreprocessErrorCode> {
  constructor(code: ImagePreprocessErrorCode, message: string) {
    super(code, message, FAULT);
    this.name = "ImagePreprocessError";
  }
}
