/**
 * Test images, generated with sharp at test time (nothing binary is checked in).
 *
 * Every generator is deterministic. `RawRgb` is the interchange: 8-bit RGB pixels [height, width, 3].
 * Good inputs: solid/pattern images in PNG, lossless WebP, JPEG with an EXIF orientation, RGBA PNG, grayscale PNG,
 * 16-bit PNG, animated GIF. Bad inputs: truncated and corrupt files, SVG, PDF, plain text, and a PNG decompression
 * bomb (a small file whose header declares more pixels than the limit).
 */
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";

export interface RawRgb {
  data: Buffer;
  width: number;
  height: number;
}

export type Rgb = readonly [number, number, number];

const raw = (image: RawRgb, channels: 3 | 4 = 3) =>
  sharp(image.data, { raw: { width: image.width, height: image.height, channels } });

/** A smooth, non-symmetric pattern: every pixel differs from its neighbours, no two rows or columns are equal. */
export function patternRgb(width: number, height: number): RawRgb {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 5 + y * 3) % 256;
      data[i + 1] = (x * 11 + y * 7 + 40) % 256;
      data[i + 2] = (x * 2 + y * 13 + 90) % 256;
    }
  }
  return { data, width, height };
}

/** Seeded noise, like a photo's sensor grain: it compresses poorly without loss and well with JPEG's loss. */
export function noiseRgb(width: number, height: number, seed = 1): RawRgb {
  const data = Buffer.alloc(width * height * 3);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    data[i] = state >>> 24;
  }
  return { data, width, height };
}

/** Four solid quadrants (top-left, top-right, bottom-left, bottom-right): orientation shows as a colour swap. */
export function quadrantsRgb(width: number, height: number, colours: readonly [Rgb, Rgb, Rgb, Rgb]): RawRgb {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const quadrant = (y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1);
      data.set(colours[quadrant], (y * width + x) * 3);
    }
  }
  return { data, width, height };
}

export function pixelAt(image: RawRgb, x: number, y: number): Rgb {
  const i = (y * image.width + x) * 3;
  return [image.data[i], image.data[i + 1], image.data[i + 2]];
}

export const png = (image: RawRgb) => raw(image).png().toBuffer();
export const jpeg = (image: RawRgb, quality = 90) => raw(image).jpeg({ quality }).toBuffer();
export const losslessWebp = (image: RawRgb) => raw(image).webp({ lossless: true }).toBuffer();
export const tiff = (image: RawRgb) => raw(image).tiff({ compression: "lzw" }).toBuffer();
export const losslessAvif = (image: RawRgb) => raw(image).avif({ lossless: true }).toBuffer();

/** A JPEG of `image` as stored pixels, tagged with an EXIF orientation (1–8) that viewers must apply. */
export const jpegWithOrientation = (image: RawRgb, orientation: number) =>
  raw(image).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer();

/** The pixels a JPEG decodes to, rotated clockwise by `degrees`, as a PNG (the "already rotated" twin of a JPEG). */
export const rotatedPngOfJpeg = (jpeg: Buffer, degrees: 90 | 180 | 270) =>
  sharp(jpeg, { autoOrient: false }).rotate(degrees).png().toBuffer();

/** RGBA PNG from RGB pixels and one alpha value per pixel. */
export function rgbaPng(image: RawRgb, alphaAt: (x: number, y: number) => number): Promise<Buffer> {
  const rgba = Buffer.alloc(image.width * image.height * 4);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const p = y * image.width + x;
      image.data.copy(rgba, p * 4, p * 3, p * 3 + 3);
      rgba[p * 4 + 3] = alphaAt(x, y);
    }
  }
  return raw({ data: rgba, width: image.width, height: image.height }, 4).png().toBuffer();
}

/** Single-channel 8-bit grayscale PNG with the given levels [height, width]. */
export function grayscalePng(levels: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(levels, { raw: { width, height, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
}

/** 16-bit-per-channel PNG holding exactly `image`'s 8-bit values (v → v·257). */
export const png16 = (image: RawRgb) => raw(image).toColourspace("rgb16").png().toBuffer();

/** Animated GIF whose frames are the given images (same size), first frame first. */
export async function animatedGif(frames: RawRgb[]): Promise<Buffer> {
  const encoded = await Promise.all(frames.map((frame) => png(frame)));
  return sharp(encoded, { join: { animated: true } })
    .gif({ delay: frames.map(() => 100) })
    .toBuffer();
}

export const svgBytes = () =>
  Buffer.from(
    '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>',
  );
export const pdfBytes = () =>
  Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
export const textBytes = () => Buffer.from("this is a text file, not a picture\n");

/** The first `fraction` of a file: headers intact, pixel data cut off. */
export const truncated = (file: Buffer, fraction = 0.5) => file.subarray(0, Math.floor(file.length * fraction));

/** A PNG whose signature survives but whose IHDR is overwritten with garbage. */
export function corruptPng(file: Buffer): Buffer {
  const copy = Buffer.from(file);
  copy.fill(0x5a, 12, 40);
  return copy;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/**
 * A valid grayscale PNG of `width × height` black pixels. All-zero rows deflate about 1000:1, so a 48-megapixel bomb
 * is a ~50 KB file that would take 144 MB as decoded RGB.
 */
export function pngBomb(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grayscale
  const scanlines = Buffer.alloc((width + 1) * height); // filter byte 0 + zeros per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(scanlines, { level: 9 })),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}
