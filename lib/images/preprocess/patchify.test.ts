import { describe, expect, it } from "vitest";
import { imageTokenCount, planImage } from "@/lib/images/preprocess/imageGrid";
import { patchify, pixelValueTable } from "@/lib/images/preprocess/patchify";
import { parsePreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";

/**
 * Independent statement of the reference layout: the [T, C, H, W] stack viewed as
 * (t, T, C, h/M, M, P, w/M, M, P), permuted to (0, 3, 6, 4, 7, 2, 1, 5, 8) and flattened. For an output element the
 * permuted index digits are decoded (mixed radix) and mapped back to the source pixel.
 */
function referenceSource(row: number, col: number, cfg: { P: number; M: number; T: number; h: number; w: number }) {
  const { P, M, T, h, w } = cfg;
  const radices = [1, h / M, w / M, M, M, 3, T, P, P]; // dims in permuted order
  const digits = new Array(9).fill(0);
  let flat = row * (3 * T * P * P) + col;
  for (let d = 8; d >= 0; d--) {
    digits[d] = flat % radices[d];
    flat = Math.floor(flat / radices[d]);
  }
  const [, hb, wb, hm, wm, c, , py, px] = digits;
  return { c, y: (hb * M + hm) * P + py, x: (wb * M + wm) * P + px };
}

describe("patchify", () => {
  const config = parsePreprocessorConfig({
    patch_size: 2,
    merge_size: 2,
    temporal_patch_size: 2,
    do_rescale: false,
    do_normalize: false,
  });

  it("lays patches out in merge-window order with (channel, temporal copy, row, column) columns", () => {
    const height = 8;
    const width = 12;
    const rgb = new Uint8Array(height * width * 3);
    // A value pattern varying in x, y and channel, so a wrong source pixel shows up as a wrong value.
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = (y * 31 + x * 7 + c * 101) % 256;
    const { pixelValues, dims, grid } = patchify(rgb, height, width, config);
    expect(grid).toEqual({ t: 1, h: 4, w: 6 });
    expect(dims).toEqual([24, 3 * 2 * 2 * 2]);
    for (let row = 0; row < dims[0]; row++) {
      for (let col = 0; col < dims[1]; col++) {
        const { c, y, x } = referenceSource(row, col, { P: 2, M: 2, T: 2, h: 4, w: 6 });
        expect(pixelValues[row * dims[1] + col]).toBe(rgb[(y * width + x) * 3 + c]);
      }
    }
  });

  it("puts the first merge window's four patches first", () => {
    const height = 4;
    const width = 8;
    const rgb = new Uint8Array(height * width * 3);
    // Label each 2×2 patch (all channels) with its patch index in raster order.
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        rgb.fill(Math.floor(y / 2) * 4 + Math.floor(x / 2), (y * width + x) * 3, (y * width + x) * 3 + 3);
    const { pixelValues, dims } = patchify(rgb, height, width, config);
    const rowLabels = Array.from({ length: dims[0] }, (_, r) => pixelValues[r * dims[1]]);
    // Raster patch grid 2×4: window 0 = patches 0, 1, 4, 5; window 1 = 2, 3, 6, 7.
    expect(rowLabels).toEqual([0, 1, 4, 5, 2, 3, 6, 7]);
  });

  it("rejects sizes that are not multiples of patch × merge", () => {
    expect(() => patchify(new Uint8Array(6 * 8 * 3), 6, 8, config)).toThrow(RangeError);
  });
});

describe("pixelValueTable", () => {
  it("rescales by 1/255 and normalises with the configured mean and std", () => {
    const table = pixelValueTable(parsePreprocessorConfig({ image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }));
    expect(table[0]).toBe(-1);
    expect(table[255]).toBe(1);
    expect(table[256 + 51]).toBeCloseTo((51 / 255 - 0.5) / 0.5, 6);
    const clip = pixelValueTable(parsePreprocessorConfig({}));
    expect(clip[2 * 256 + 128]).toBeCloseTo((128 / 255 - 0.40821073) / 0.27577711, 5);
  });
});

describe("planImage / imageTokenCount", () => {
  it("derives the grid from smart_resize and counts merged tokens", () => {
    const config = parsePreprocessorConfig({ size: { shortest_edge: 65536, longest_edge: 16777216 }, patch_size: 16 });
    const plan = planImage(720, 477, config);
    expect(plan).toEqual({ resizedWidth: 704, resizedHeight: 480, grid: { t: 1, h: 30, w: 44 } });
    expect(imageTokenCount(plan.grid, 2)).toBe(330);
  });

  it("counts an image's tokens after the merge_size × merge_size merger, every frame", () => {
    expect(imageTokenCount({ t: 1, h: 28, w: 40 }, 2)).toBe(280);
    expect(imageTokenCount({ t: 2, h: 4, w: 6 }, 2)).toBe(12);
  });

  it("without resizing insists on multiples of patch × merge", () => {
    const config = parsePreprocessorConfig({ do_resize: false, patch_size: 16 });
    expect(planImage(64, 96, config).grid).toEqual({ t: 1, h: 6, w: 4 });
    expect(() => planImage(65, 96, config)).toThrow(expect.objectContaining({ code: "invalid_image" }));
  });
});
