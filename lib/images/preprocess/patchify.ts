import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";
import type { PreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";

/**
 * The value each 8-bit sample becomes, per channel: [3 × 256] f32. Mirrors the slow processor's arithmetic exactly —
 * rescale in float64 then cast to f32, then (x − mean) / std in f32 — so identical pixels give bit-identical values.
 */
export function pixelValueTable(config: PreprocessorConfig): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(config.imageMean[c]);
    const std = Math.fround(config.imageStd[c]);
    for (let x = 0; x < 256; x++) {
      let v = config.doRescale ? Math.fround(x * config.rescaleFactor) : x;
      if (config.doNormalize) v = Math.fround(Math.fround(v - mean) / std);
      table[c * 256 + x] = v;
    }
  }
  return table;
}

/**
 * The image's pixel values before they are cut into patches: [height, width, 3] f32 (HWC, as the RGB bytes), each
 * sample through `table` — the values `patchify` rearranges, for a patchify that runs elsewhere (on the GPU:
 * lib/model/engine/featureOps.ts), where the same rearrangement gives bit-identical pixel values.
 */
export function pixelValueImage(rgb: Uint8Array, table: Float32Array): Float32Array {
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = table[rgb[i]];
    out[i + 1] = table[256 + rgb[i + 1]];
    out[i + 2] = table[512 + rgb[i + 2]];
  }
  return out;
}

/** The patch grid of a still image whose sides are multiples of patch × merge (else a RangeError). */
export function patchGrid(height: number, width: number, config: PreprocessorConfig): ImageGrid {
  const P = config.patchSize;
  const M = config.mergeSize;
  if (height % (P * M) !== 0 || width % (P * M) !== 0) {
    throw new RangeError(`image ${width}×${height} is not a multiple of patch × merge = ${P * M}`);
  }
  return { t: 1, h: height / P, w: width / P };
}

/**
 * Cuts an RGB image (HWC, 8-bit, sides multiples of patch × merge) into the flattened patches the vision tower takes:
 * [t·h·w, C·T·P·P] with h = height / P, w = width / P, t = 1 (a still image repeated temporalPatchSize times).
 *
 * Row order is the merge-window order of the reference (`reshape(t, T, C, h/M, M, P, w/M, M, P)` then
 * `permute(0, 3, 6, 4, 7, 2, 1, 5, 8)`): windows of M×M patches in raster order, patches raster order inside a
 * window, so each group of M² consecutive rows becomes one merged token. Columns run channel, then temporal copy,
 * then the P×P pixels in raster order.
 */
export function patchify(
  rgb: Uint8Array,
  height: number,
  width: number,
  config: PreprocessorConfig,
  table: Float32Array = pixelValueTable(config),
): { pixelValues: Float32Array; dims: [number, number]; grid: ImageGrid } {
  const P = config.patchSize;
  const M = config.mergeSize;
  const T = config.temporalPatchSize;
  const grid = patchGrid(height, width, config);
  if (rgb.length !== height * width * 3)
    throw new RangeError(`expected ${height * width * 3} RGB bytes, got ${rgb.length}`);
  const patches = grid.t * grid.h * grid.w;
  const rowLength = 3 * T * P * P;
  const out = new Float32Array(patches * rowLength);
  let o = 0;
  for (let hb = 0; hb < grid.h / M; hb++) {
    for (let wb = 0; wb < grid.w / M; wb++) {
      for (let hm = 0; hm < M; hm++) {
        for (let wm = 0; wm < M; wm++) {
          const y0 = (hb * M + hm) * P;
          const x0 = (wb * M + wm) * P;
          for (let c = 0; c < 3; c++) {
            const lut = c * 256;
            for (let tt = 0; tt < T; tt++) {
              for (let py = 0; py < P; py++) {
                let src = ((y0 + py) * width + x0) * 3 + c;
                for (let px = 0; px < P; px++, src += 3) out[o++] = table[lut + rgb[src]];
              }
            }
          }
        }
      }
    }
  }
  return { pixelValues: out, dims: [patches, rowLength], grid };
}
