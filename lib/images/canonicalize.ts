/**
 * Canonical form of an uploaded image, and its content id.
 *
 * Canonical = what a viewer sees, as 8-bit sRGB RGB pixels [height, width, 3], row-major:
 *   decode (first frame of an animation) → apply EXIF orientation → flatten alpha onto white → convert to sRGB
 *   (embedded ICC profiles honoured; grayscale expanded to three equal channels; 16-bit scaled to 8-bit).
 * Everything about the file that does not change those pixels (container, compression, metadata, bit depth of an
 * exact 8-bit image) is gone, so the same picture in another lossless encoding has the same id.
 */

import { createHash } from "node:crypto";
import sharp, { type SharpOptions } from "sharp";
import type { ImageId } from "@/lib/ids";
import { ingestError, type IngestError } from "@/lib/images/ingestErrors";
import type { PixelBudget } from "@/lib/images/pixelBudget";
import { SNIFF_BYTES, sniffImageFormat, type SupportedImageFormat } from "@/lib/images/sniffFormat";

export interface CanonicalImage {
  readonly id: ImageId;
  readonly width: number;
  readonly height: number;
  /** [height, width, 3] u8 sRGB, row-major. */
  readonly data: Buffer;
  readonly sourceFormat: SupportedImageFormat;
}

export interface CanonicalizeLimits {
  /** Largest width × height accepted; checked from the header, before any pixel is decoded. */
  maxPixels: number;
  /** The process's decode budget (pixelBudget.ts): the decode waits for width × height of it. */
  budget?: PixelBudget;
  /** Gives up waiting for the budget when the request that needs the image is gone. */
  signal?: AbortSignal;
}

/** What a file's header says, read without decoding a pixel: its format and its size once EXIF-oriented. */
export interface ImageHeader {
  readonly format: SupportedImageFormat;
  readonly width: number;
  readonly height: number;
}

export type HeaderResult = { ok: true; header: ImageHeader } | { ok: false; error: IngestError };

export type CanonicalizeResult = { ok: true; image: CanonicalImage } | { ok: false; error: IngestError };

/**
 * imageId = SHA-256( u32be(width) ‖ u32be(height) ‖ pixels ), pixels as in `CanonicalImage.data`.
 * Width and height are hashed because the same bytes laid out as 4×6 and 6×4 are different pictures.
 */
export function imageIdOf(data: Uint8Array, width: number, height: number): ImageId {
  if (data.length !== width * height * 3) {
    throw new RangeError(`expected ${width}×${height}×3 = ${width * height * 3} bytes of RGB, got ${data.length}`);
  }
  const size = Buffer.alloc(8);
  size.writeUInt32BE(width, 0);
  size.writeUInt32BE(height, 4);
  return createHash("sha256").update(size).update(data).digest("hex") as ImageId;
}

/** sharp's messages sometimes end in a colon with nothing after it; a reason should read as a sentence. */
function decoderReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.trim().replace(/:$/, "") || "unknown decoder error";
}

// failOn "error": truncated and corrupt pixel data abort, harmless encoder warnings (that browsers ignore) do not.
const decodeOptions = (maxPixels: number): SharpOptions => ({ failOn: "error", limitInputPixels: maxPixels, pages: 1 });

/** Format and oriented size from the header alone (sharp's metadata): cheap, whatever size the image declares. */
export async function readImageHeader(
  input: Buffer,
  limits: Pick<CanonicalizeLimits, "maxPixels">,
): Promise<HeaderResult> {
  const sniffed = sniffImageFormat(input.subarray(0, SNIFF_BYTES));
  if (sniffed.kind === "unknown") return { ok: false, error: ingestError.notAnImage() };
  if (sniffed.kind === "unsupported") return { ok: false, error: ingestError.unsupported(sniffed.label) };
  const format = sniffed.format;
  let width: number;
  let height: number;
  try {
    const metadata = await sharp(input, { ...decodeOptions(limits.maxPixels), limitInputPixels: false }).metadata();
    ({ width, height } = metadata.autoOrient);
  } catch (error) {
    return { ok: false, error: ingestError.undecodable(format, decoderReason(error)) };
  }
  if (width * height > limits.maxPixels) {
    return { ok: false, error: ingestError.tooManyPixels(width, height, limits.maxPixels) };
  }
  return { ok: true, header: { format, width, height } };
}

export async function canonicalize(input: Buffer, limits: CanonicalizeLimits): Promise<CanonicalizeResult> {
  const read = await readImageHeader(input, limits);
  if (!read.ok) return read;
  const { format, width, height } = read.header;
  const decode = () => decodeCanonical(input, format, limits.maxPixels);
  return limits.budget ? limits.budget.use(width * height, decode, limits.signal) : decode();
}

async function decodeCanonical(
  input: Buffer,
  format: SupportedImageFormat,
  maxPixels: number,
): Promise<CanonicalizeResult> {
  try {
    const { data, info } = await sharp(input, decodeOptions(maxPixels))
      .autoOrient()
      .flatten({ background: "#ffffff" })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(
        `decoder produced ${info.channels} channels / ${data.length} bytes for ${info.width}×${info.height}`,
      );
    }
    return {
      ok: true,
      image: {
        id: imageIdOf(data, info.width, info.height),
        width: info.width,
        height: info.height,
        data,
        sourceFormat: format,
      },
    };
  } catch (error) {
    return { ok: false, error: ingestError.undecodable(format, decoderReason(error)) };
  }
}

/**
 * The pixels of a stored image (stored as the file that was uploaded, see lib/server/images.ts), decoded again and
 * checked against the id they were stored under: null when they no longer hash to it (a decoder that changed between
 * the upload and now), so an image can never answer for another one.
 */
export async function decodeStoredImage(
  stored: Buffer,
  id: ImageId,
  limits: CanonicalizeLimits,
): Promise<CanonicalImage | null> {
  const result = await canonicalize(stored, limits);
  return result.ok && result.image.id === id ? result.image : null;
}

/** The form GET /api/images/:id?raw=1 serves: lossless PNG of the canonical pixels. Deterministic for given pixels. */
export function encodeCanonicalPng(image: Pick<CanonicalImage, "data" | "width" | "height">): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}
