import sharp, { type Sharp } from "sharp";

/** An 8-bit RGB image, pixels interleaved row by row: [height, width, 3]. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Edge pixels replicated around an axis before upsampling, so the interpolator never reads the black background. */
const UPSAMPLE_PAD = 3;

function rawInput(image: RgbImage) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

async function toRgb(pipeline: Sharp): Promise<RgbImage> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Downsampling along one axis: libvips' reduce with the Catmull-Rom ("cubic", a = −0.5) kernel widened by the scale
 *  factor — the same antialiasing filter as PIL's BICUBIC. */
function reduceAxis(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  return toRgb(rawInput(image).resize(width, height, { kernel: "cubic", fit: "fill" }));
}

/**
 * Upsampling along one axis. sharp's `resize` enlarges with an interpolator whose sample positions are shifted from
 * PIL's, so this maps pixel centres explicitly, as PIL does: output pixel j samples input position (j + ½) / s − ½.
 * The axis is first padded by copying edge pixels (PIL instead renormalises the kernel at the border; copying comes
 * closest among libvips' options), then an affine transform with the bicubic (Catmull-Rom) interpolator places
 * output pixel j at affine coordinate j + offset, and the wanted window is extracted.
 */
async function enlargeAxis(image: RgbImage, axis: "x" | "y", size: number): Promise<RgbImage> {
  const from = axis === "x" ? image.width : image.height;
  const scale = size / from;
  const pad = UPSAMPLE_PAD;
  const padded = await toRgb(
    rawInput(image).extend(
      axis === "x" ? { left: pad, right: pad, extendWith: "copy" } : { top: pad, bottom: pad, extendWith: "copy" },
    ),
  );
  // With input offset ½ and output offset o, affine coordinate X = s·(x_padded + ½) + o = s·(x + ½) + s·pad + o.
  // Choosing o = offset − ½ − s·pad puts PIL's output pixel j at X = j + offset, a whole number.
  const offset = Math.ceil(scale * pad);
  const shift = offset - 0.5 - scale * pad;
  const enlarged = await toRgb(
    rawInput(padded).affine(
      axis === "x"
        ? [
            [scale, 0],
            [0, 1],
          ]
        : [
            [1, 0],
            [0, scale],
          ],
      {
        idx: axis === "x" ? 0.5 : 0,
        idy: axis === "y" ? 0.5 : 0,
        odx: axis === "x" ? shift : 0,
        ody: axis === "y" ? shift : 0,
        interpolator: "bicubic",
      },
    ),
  );
  const window =
    axis === "x"
      ? { left: offset, top: 0, width: size, height: image.height }
      : { left: 0, top: offset, width: image.width, height: size };
  if (window.left + window.width > enlarged.width || window.top + window.height > enlarged.height) {
    throw new Error(
      `enlarge ${from} → ${size} along ${axis}: affine output ${enlarged.width}×${enlarged.height} too small`,
    );
  }
  return toRgb(rawInput(enlarged).extract(window));
}

async function resizeAxis(image: RgbImage, axis: "x" | "y", size: number): Promise<RgbImage> {
  const from = axis === "x" ? image.width : image.height;
  if (size === from) return image;
  if (size > from) return enlargeAxis(image, axis, size);
  return axis === "x" ? reduceAxis(image, size, image.height) : reduceAxis(image, image.width, size);
}

/**
 * Bicubic resize approximating PIL's `Image.resize(size, BICUBIC)` — what transformers' slow image processors call.
 * Like PIL it is separable, horizontal pass first, with the intermediate rounded to 8 bits. Measured against Pillow on
 * photos: mean |Δ| ≈ 0.2 levels and p99 ≤ 1 for reductions up to 4×, ≈ 1 level beyond (libvips box-shrinks first
 * there), ≈ 0.3 levels for enlargements; see preprocess tests and the parity table for fixture numbers.
 */
export async function resizeImage(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  const horizontal = await resizeAxis(image, "x", width);
  return resizeAxis(horizontal, "y", height);
}
