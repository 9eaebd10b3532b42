import type { ImageId, TenantId } from "@/lib/ids";
import { canonicalize } from "@/lib/images/canonicalize";
import type { IngestError } from "@/lib/images/ingestErrors";
import type { RgbImage } from "@/lib/images/preprocess/resizeImage";
import { InferenceError } from "./errors";
import type { ImageSource } from "./imageSource";
import type { ImagePart } from "./request";

/**
 * A request's image, resolved to a canonical image id and size without touching its pixels (unless it came as bytes,
 * whose canonicalisation decodes them anyway). `pixels()` loads the canonical pixels when the features must be
 * computed.
 */
export interface RequestImage {
  readonly imageId: ImageId;
  readonly width: number;
  readonly height: number;
  pixels(): Promise<RgbImage>;
}

export interface ResolveImageDeps {
  readonly source: ImageSource;
  readonly tenant: TenantId;
  /** Largest accepted width × height (AppConfig.maxImagePixels, the upload limit). */
  readonly maxImagePixels: number;
}

/** Resolves every image part, in order. Refusals: image_not_found, image_too_large, invalid_image, unsupported_media_type. */
export async function resolveRequestImages(parts: readonly ImagePart[], deps: ResolveImageDeps): Promise<RequestImage[]> {
  const resolved: RequestImage[] = [];
  for (const part of parts) resolved.push("imageId" in part ? await storedImage(part.imageId, deps) : await sentImage(part.bytes, deps));
  return resolved;
}

function checkPixelCount(width: number, height: number, maxImagePixels: number): void {
  if (width * height > maxImagePixels) {
    throw new InferenceError("image_too_large", `the image is ${width}×${height} = ${width * height} pixels, more than the limit of ${maxImagePixels}`);
  }
}

async function storedImage(imageId: ImageId, deps: ResolveImageDeps): Promise<RequestImage> {
  const size = await deps.source.size(imageId, deps.tenant);
  if (!size) throw new InferenceError("image_not_found", `no image with id ${imageId} (unknown or expired)`);
  checkPixelCount(size.width, size.height, deps.maxImagePixels);
  return {
    imageId,
    ...size,
    async pixels() {
      const image = await deps.source.pixels(imageId, deps.tenant);
      if (!image) throw new InferenceError("image_not_found", `image ${imageId} expired while the request was running`);
      return image;
    },
  };
}

async function sentImage(bytes: Uint8Array, deps: ResolveImageDeps): Promise<RequestImage> {
  const result = await canonicalize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), { maxPixels: deps.maxImagePixels });
  if (!result.ok) throw fromIngestError(result.error);
  const { id, width, height, data } = result.image;
  return { imageId: id, width, height, pixels: async () => ({ data, width, height }) };
}

function fromIngestError(error: IngestError): InferenceError {
  switch (error.code) {
    case "too_many_pixels":
      return new InferenceError("image_too_large", error.message);
    case "unsupported_media_type":
      return new InferenceError("unsupported_media_type", error.message);
    default:
      return new InferenceError("invalid_image", error.message);
  }
}
