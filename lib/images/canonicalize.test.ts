import { createHash } from "node:crypto";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { ImageId } from "@/lib/ids";
import {
  canonicalize,
  decodeStoredImage,
  encodeCanonicalPng,
  imageIdOf,
  readImageHeader,
  type CanonicalImage,
} from "@/lib/images/canonicalize";
import type { IngestError } from "@/lib/images/ingestErrors";
import * as img from "@/tests/support/testImages";

const limits = { maxPixels: 40_000_000 };

async function ok(file: Buffer): Promise<CanonicalImage> {
  const result = await canonicalize(file, limits);
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.image;
}

async function fails(file: Buffer, maxPixels = limits.maxPixels): Promise<IngestError> {
  const result = await canonicalize(file, { maxPixels });
  if (result.ok) throw new Error("expected a refusal");
  return result.error;
}

function expectClose(actual: readonly number[], expected: readonly number[], tolerance: number) {
  actual.forEach((value, i) => expect(Math.abs(value - expected[i])).toBeLessThanOrEqual(tolerance));
}

describe("imageIdOf", () => {
  it("is SHA-256 over big-endian width, height, then the pixels", () => {
    const pixels = Buffer.from([1, 2, 3, 4, 5, 6]);
    const expected = createHash("sha256")
      .update(Buffer.from([0, 0, 0, 2, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6]))
      .digest("hex");
    expect(imageIdOf(pixels, 2, 1)).toBe(expected);
  });

  it("distinguishes the same bytes laid out with other dimensions", () => {
    const pixels = img.patternRgb(4, 6).data;
    expect(imageIdOf(pixels, 4, 6)).not.toBe(imageIdOf(pixels, 6, 4));
  });

  it("refuses a buffer that does not match the dimensions", () => {
    expect(() => imageIdOf(Buffer.alloc(10), 2, 2)).toThrow(RangeError);
  });
});

describe("canonicalize: same pixels, same id", () => {
  const picture = img.patternRgb(37, 23);

  it("keeps a PNG's pixels exactly", async () => {
    const canonical = await ok(await img.png(picture));
    expect(canonical.width).toBe(37);
    expect(canonical.height).toBe(23);
    expect(canonical.data.equals(picture.data)).toBe(true);
    expect(canonical.id).toBe(imageIdOf(picture.data, 37, 23));
    expect(canonical.sourceFormat).toBe("png");
  });

  it("gives a PNG, a lossless WebP, a TIFF and a lossless AVIF of the same pixels the same id", async () => {
    const expected = imageIdOf(picture.data, picture.width, picture.height);
    expect((await ok(await img.losslessWebp(picture))).id).toBe(expected);
    expect((await ok(await img.tiff(picture))).id).toBe(expected);
    const avif = await ok(await img.losslessAvif(picture));
    expect(avif.sourceFormat).toBe("avif");
    expect(avif.id).toBe(expected);
  });

  it("applies EXIF orientation 6: same id as a PNG of the already rotated pixels", async () => {
    const red: img.Rgb = [220, 20, 20];
    const green: img.Rgb = [20, 200, 20];
    const blue: img.Rgb = [20, 20, 220];
    const white: img.Rgb = [250, 250, 250];
    const stored = img.quadrantsRgb(64, 32, [red, green, blue, white]);
    const jpeg = await img.jpegWithOrientation(stored, 6);
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);

    const canonical = await ok(jpeg);
    // Orientation 6 = rotate 90° clockwise for display: 64×32 stored → 32×64 shown, bottom-left moves to top-left.
    expect([canonical.width, canonical.height]).toEqual([32, 64]);
    const shown = { data: canonical.data, width: 32, height: 64 };
    expectClose(img.pixelAt(shown, 4, 4), blue, 6);
    expectClose(img.pixelAt(shown, 28, 4), red, 6);
    expectClose(img.pixelAt(shown, 4, 60), white, 6);
    expectClose(img.pixelAt(shown, 28, 60), green, 6);

    const rotatedPng = await img.rotatedPngOfJpeg(jpeg, 90);
    expect((await ok(rotatedPng)).id).toBe(canonical.id);
  });

  it("flattens alpha onto white", async () => {
    const base = img.quadrantsRgb(8, 8, [
      [200, 0, 0],
      [0, 200, 0],
      [0, 0, 200],
      [10, 20, 30],
    ]);
    // Alpha by quadrant: opaque, transparent, half, quarter.
    const alphaOf = (x: number, y: number) => [255, 0, 128, 64][(y < 4 ? 0 : 2) + (x < 4 ? 0 : 1)];
    const canonical = await ok(await img.rgbaPng(base, alphaOf));
    const shown = { data: canonical.data, width: 8, height: 8 };
    const over = (c: number, a: number) => Math.round((c * a + 255 * (255 - a)) / 255);
    expect(img.pixelAt(shown, 1, 1)).toEqual([200, 0, 0]);
    expect(img.pixelAt(shown, 6, 1)).toEqual([255, 255, 255]);
    expectClose(img.pixelAt(shown, 1, 6), [over(0, 128), over(0, 128), over(200, 128)], 1);
    expectClose(img.pixelAt(shown, 6, 6), [over(10, 64), over(20, 64), over(30, 64)], 1);
  });

  it("expands grayscale to three equal channels: same id as the RGB image with those levels", async () => {
    const levels = Buffer.from(Array.from({ length: 5 * 3 }, (_, i) => (i * 17) % 256));
    const gray = await img.grayscalePng(levels, 5, 3);
    expect((await sharp(gray).metadata()).channels).toBe(1);
    const rgb = Buffer.alloc(levels.length * 3);
    levels.forEach((level, i) => rgb.fill(level, i * 3, i * 3 + 3));
    const canonical = await ok(gray);
    expect(canonical.data.equals(rgb)).toBe(true);
    expect(canonical.id).toBe(imageIdOf(rgb, 5, 3));
  });

  it("scales 16-bit input to 8-bit: a 16-bit PNG of 8-bit values has the 8-bit image's id", async () => {
    const sixteen = await img.png16(picture);
    expect((await sharp(sixteen).metadata()).depth).toBe("ushort");
    expect((await ok(sixteen)).id).toBe(imageIdOf(picture.data, picture.width, picture.height));
  });

  it("uses the first frame of an animated GIF", async () => {
    const first = img.quadrantsRgb(16, 16, [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 255],
    ]);
    const second = img.quadrantsRgb(16, 16, [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    const gif = await img.animatedGif([first, second]);
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const canonical = await ok(gif);
    expect([canonical.width, canonical.height]).toEqual([16, 16]);
    // GIF is palette-based but these four colours are exact palette entries.
    expect(canonical.id).toBe(imageIdOf(first.data, 16, 16));
  });
});

describe("canonicalize: refusals", () => {
  it("refuses SVG and PDF as unsupported media types", async () => {
    expect(await fails(img.svgBytes())).toMatchObject({ code: "unsupported_media_type", detected: "SVG" });
    expect(await fails(img.pdfBytes())).toMatchObject({ code: "unsupported_media_type", detected: "PDF" });
  });

  it("calls plain text not an image", async () => {
    expect(await fails(img.textBytes())).toMatchObject({ code: "invalid_image", reason: "unrecognised format" });
  });

  it("reports a truncated JPEG and PNG with the decoder's reason", async () => {
    const picture = img.patternRgb(64, 64);
    const jpegError = await fails(img.truncated(await img.jpegWithOrientation(picture, 1)));
    expect(jpegError.code).toBe("invalid_image");
    expect(jpegError.message).toMatch(/^The JPEG file could not be decoded \(truncated or corrupt\): .*premature end/i);
    const pngError = await fails(img.truncated(await img.png(picture)));
    expect(pngError.code).toBe("invalid_image");
    expect(pngError.message).toMatch(/^The PNG file could not be decoded/);
  });

  it("reports a PNG with a corrupt header", async () => {
    const error = await fails(img.corruptPng(await img.png(img.patternRgb(8, 8))));
    expect(error.code).toBe("invalid_image");
    expect(error.message).not.toMatch(/:\s*$/);
  });

  it("refuses a decompression bomb from its header, before decoding", async () => {
    const bomb = img.pngBomb(8000, 6000);
    expect(bomb.length).toBeLessThan(1_000_000);
    expect(await fails(bomb)).toEqual({
      code: "too_many_pixels",
      message: "The image is 8000×6000 = 48000000 pixels, more than the limit of 40000000",
      width: 8000,
      height: 6000,
      limitPixels: 40_000_000,
    });
  });

  it("applies a configured pixel limit", async () => {
    const picture = await img.png(img.patternRgb(20, 10));
    expect(await fails(picture, 199)).toMatchObject({
      code: "too_many_pixels",
      width: 20,
      height: 10,
      limitPixels: 199,
    });
    expect((await canonicalize(picture, { maxPixels: 200 })).ok).toBe(true);
  });
});

describe("canonical PNG", () => {
  it("round-trips the pixels losslessly and encodes deterministically", async () => {
    const picture = img.patternRgb(31, 17);
    const canonical = await ok(await img.losslessWebp(picture));
    const stored = await encodeCanonicalPng(canonical);
    expect((await encodeCanonicalPng(canonical)).equals(stored)).toBe(true);
    const back = await decodeStoredImage(stored, canonical.id, { maxPixels: 1000 });
    expect(back?.data.equals(canonical.data)).toBe(true);
  });
});

describe("decodeStoredImage", () => {
  it("answers the pixels only when they hash to the id they were stored under", async () => {
    const file = await img.jpegWithOrientation(img.patternRgb(30, 20), 6);
    const canonical = await ok(file);
    expect((await decodeStoredImage(file, canonical.id, { maxPixels: 1000 }))?.id).toBe(canonical.id);
    expect(await decodeStoredImage(file, "0".repeat(64) as ImageId, { maxPixels: 1000 })).toBeNull();
  });
});

describe("readImageHeader", () => {
  it("reads format and EXIF-oriented size without decoding, and applies the pixel limit", async () => {
    const rotated = await img.jpegWithOrientation(img.patternRgb(30, 20), 6);
    expect(await readImageHeader(rotated, { maxPixels: 1000 })).toEqual({
      ok: true,
      header: { format: "jpeg", width: 20, height: 30 },
    });
    expect(await readImageHeader(img.pngBomb(8000, 6000), { maxPixels: 1000 })).toMatchObject({
      ok: false,
      error: { code: "too_many_pixels" },
    });
  });
});
