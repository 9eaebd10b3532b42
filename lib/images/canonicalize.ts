import { createHash } from "node:crypto";
import sharp, { type SharpOptions } from "sharp";
import type { ImageId } from "@/lib/ids";
import { ingestError, type IngestError } from "@/lib/images/ingestErrors";
import { SNIFF_BYTES, sniffImageFormat, type SupportedImageFormat } from "@/lib/images/sniffFormat";

/**
 * Canonical form of an uploaded image, and its content id.
 *
 * Canonical = what a viewer sees, as 8-bit sRGB RGB pixels [height, width, 3], row-major:
 *   decode (first frame of an animation) → apply EXIF orientation → flatten alpha onto white → convert to sRGB
 *   (embedded ICC profiles honoured; grayscale expanded to three equal channels; 16-bit scaled to 8-bit).
 * Everything about the file that does not change those pixels (container, compression, metadata, bit depth of an
 * exact 8-bit image) is gone, so the same picture in another lossless encoding has the same id.
 */
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
}

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

export async function canonicalize(input: Buffer, limits: CanonicalizeLimits): Promise<CanonicalizeResult> {
  const sniffed = sniffImageFormat(input.subarray(0, SNIFF_BYTES));
  if (sniffed.kind === "unknown") return { ok: false, error: ingestError.notAnImage() };
  if (sniffed.kind === "unsupported") return { ok: false, error: ingestError.unsupported(sniffed.label) };
  const format = sniffed.format;

  // failOn "error": truncated and corrupt pixel data abort, harmless encoder warnings (that browsers ignore) do not.
  const options: SharpOptions = { failOn: "error", limitInputPixels: limits.maxPixels, pages: 1 };
  let width: number;
  let height: number;
  try {
    const header = await sharp(input, { ...options, limitInputPixels: false }).metadata();
    width = header.width;
    height = header.height;
  } catch (error) {
    return { ok: false, error: ingestError.undecodable(format, decoderReason(error)) };
  }
  if (width * height > limits.maxPixels) {
    return { ok: false, error: ingestError.tooManyPixels(width, height, limits.maxPixels) };
  }

  try {
    const { data, info } = await sharp(input, options)
      .autoOrient()
      .flatten({ background: "#ffffff" })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(`decoder produced ${info.channels} channels / ${data.length} bytes for ${info.width}×${info.height}`);
    }
    return {
      ok: true,
      image: { id: imageIdOf(data, info.width, info.height), width: info.width, height: info.height, data, sourceFormat: format },
    };
  } catch (error) {
    return { ok: false, error: ingestError.undecodable(format, decoderReason(error)) };
  }
}

/** The stored form: lossless PNG of the canonical pixels. Deterministic for given pixels (fixed encoder settings). */
export function encodeCanonicalPng(image: Pick<CanonicalImage, "data" | "width" | "height">): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

/** Reads a stored canonical PNG back into pixels; `imageIdOf` of the result equals the id it was stored under. */
export async function decodeCanonicalPng(png: Buffer): Promise<Pick<CanonicalImage, "data" | "width" | "height">> {
  const { data, info } = await sharp(png).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
