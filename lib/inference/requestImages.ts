import type { ImageId, TenantId } from "@/lib/ids";
import { canonicalize, readImageHeader } from "@/lib/images/canonicalize";
import type { IngestError } from "@/lib/images/ingestErrors";
import { isDecodeBusy, type PixelBudget } from "@/lib/images/pixelBudget";
import type { RgbImage } from "@/lib/images/preprocess/resizeImage";
import { InferenceError } from "./errors";
import type { ImageSource } from "./imageSource";
import type { ImagePart } from "./request";

/**
 * A request's images, resolved in two steps so that what a request costs is known before it costs anything:
 *
 *   measure  (`measureRequestImages`): count them (at most `maxImages`, the whole conversation, whichever API it came
 *            through) and size each without decoding a pixel — a stored image from its record, an image sent as bytes
 *            from its file header (sharp metadata, EXIF orientation applied) — and bound each one (`maxImagePixels`)
 *            and their sum (`maxPixels`). The caller then checks the prompt against the context, still decoding
 *            nothing.
 *   identify (`identifyRequestImages`): decode the images sent as bytes, one at a time, each holding its share of the
 *            process's decode budget, to get their content ids; the decoded pixels are dropped at once and decoded
 *            again (under the budget) only if the features must be computed, so a waiting request holds only the
 *            compressed bytes it came with.
 * Refusals: too_many_images (400), too_many_pixels / image_too_large (413), image_not_found, invalid_image,
 * unsupported_media_type, decode_busy (503, the decode budget stayed spent for too long).
 */
export interface RequestImage {
  readonly imageId: ImageId;
  readonly width: number;
  readonly height: number;
  pixels(): Promise<RgbImage>;
}

/** One image part with its size, not yet identified when it came as bytes. */
export interface MeasuredImage {
  readonly part: ImagePart;
  readonly width: number;
  readonly height: number;
}

/** Bounds of one request (AppConfig.requestImages). */
export interface RequestImageLimits {
  readonly maxImages: number;
  readonly maxPixels: number;
}

export interface ResolveImageDeps {
  readonly source: ImageSource;
  readonly tenant: TenantId;
  /** Largest accepted width × height of one image (AppConfig.maxImagePixels, the upload limit). */
  readonly maxImagePixels: number;
  /** Unbounded when absent (tests of the pipeline alone). */
  readonly limits?: RequestImageLimits;
  /** The process's decode budget; decodes are not metered when absent. */
  readonly budget?: PixelBudget;
  readonly signal?: AbortSignal;
}

export async function measureRequestImages(
  parts: readonly ImagePart[],
  deps: ResolveImageDeps,
): Promise<MeasuredImage[]> {
  const maxImages = deps.limits?.maxImages ?? Infinity;
  if (parts.length > maxImages) {
    throw new InferenceError(
      "too_many_images",
      `the request holds ${parts.length} images (the whole conversation counts), more than the limit of ${maxImages}`,
    );
  }
  const measured: MeasuredImage[] = [];
  let totalPixels = 0;
  for (const part of parts) {
    const size = "imageId" in part ? await storedSize(part.imageId, deps) : await sentSize(part.bytes, deps);
    if (size.width * size.height > deps.maxImagePixels) {
      throw new InferenceError(
        "image_too_large",
        `the image is ${size.width}×${size.height} = ${size.width * size.height} pixels, more than the limit of ${deps.maxImagePixels}`,
      );
    }
    totalPixels += size.width * size.height;
    measured.push({ part, ...size });
  }
  const maxPixels = deps.limits?.maxPixels ?? Infinity;
  if (totalPixels > maxPixels) {
    throw new InferenceError(
      "too_many_pixels",
      `the request's images hold ${totalPixels} pixels together, more than the limit of ${maxPixels}`,
    );
  }
  return measured;
}

export async function identifyRequestImages(
  measured: readonly MeasuredImage[],
  deps: ResolveImageDeps,
): Promise<RequestImage[]> {
  const identified: RequestImage[] = [];
  for (const image of measured) {
    const { part, width, height } = image;
    if ("imageId" in part) {
      identified.push({ imageId: part.imageId, width, height, pixels: () => storedPixels(part.imageId, deps) });
      continue;
    }
    const bytes = Buffer.from(part.bytes.buffer, part.bytes.byteOffset, part.bytes.length);
    const { id } = await decodeSent(bytes, deps);
    identified.push({ imageId: id, width, height, pixels: async () => (await decodeSent(bytes, deps)).pixels });
  }
  return identified;
}

async function storedSize(imageId: ImageId, deps: ResolveImageDeps): Promise<{ width: number; height: number }> {
  const size = await deps.source.size(imageId, deps.tenant);
  if (!size) throw new InferenceError("image_not_found", `no image with id ${imageId} (unknown or expired)`);
  return size;
}

async function storedPixels(imageId: ImageId, deps: ResolveImageDeps): Promise<RgbImage> {
  const image = await deps.source.pixels(imageId, deps.tenant);
  if (!image) throw new InferenceError("image_not_found", `image ${imageId} expired while the request was running`);
  return image;
}

async function sentSize(bytes: Uint8Array, deps: ResolveImageDeps): Promise<{ width: number; height: number }> {
  const read = await readImageHeader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), {
    maxPixels: deps.maxImagePixels,
  });
  if (!read.ok) throw fromIngestError(read.error);
  return { width: read.header.width, height: read.header.height };
}

async function decodeSent(bytes: Buffer, deps: ResolveImageDeps): Promise<{ id: ImageId; pixels: RgbImage }> {
  try {
    const result = await canonicalize(bytes, {
      maxPixels: deps.maxImagePixels,
      budget: deps.budget,
      signal: deps.signal,
    });
    if (!result.ok) throw fromIngestError(result.error);
    const { id, width, height, data } = result.image;
    return { id, pixels: { data, width, height } };
  } catch (error) {
    if (isDecodeBusy(error)) throw new InferenceError("decode_busy", error.message);
    throw error;
  }
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
