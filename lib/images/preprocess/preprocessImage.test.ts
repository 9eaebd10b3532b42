import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { planImage } from "@/lib/images/preprocess/imageGrid";
import { preprocessImage } from "@/lib/images/preprocess/preprocessImage";
import { parsePreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";

const config = parsePreprocessorConfig({
  size: { shortest_edge: 32 * 32 * 4, longest_edge: 32 * 32 * 64 },
  patch_size: 16,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
});
const noResize = parsePreprocessorConfig({ do_resize: false, patch_size: 16, image_mean: 0.5, image_std: 0.5 });

function gradient(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([i % 256, (i * 3) % 256, 128], i * 3);
  return data;
}

/** Value at channel c of pixel (x, y) in the first temporal copy, for an output whose rows are merge windows. */
function valueAt(pv: Float32Array, grid: { h: number; w: number }, x: number, y: number, c: number): number {
  const P = 16;
  const M = 2;
  const [px, py] = [Math.floor(x / P), Math.floor(y / P)];
  const row = ((Math.floor(py / M) * (grid.w / M) + Math.floor(px / M)) * M + (py % M)) * M + (px % M);
  return pv[row * 1536 + c * 2 * P * P + (y % P) * P + (x % P)];
}

describe("preprocessImage", () => {
  it("turns raw RGB into [patches, 3·2·16·16] with the planned grid", async () => {
    const out = await preprocessImage(
      { kind: "rgb", image: { data: gradient(200, 100), width: 200, height: 100 } },
      config,
    );
    const plan = planImage(200, 100, config);
    expect(out.grid).toEqual(plan.grid);
    expect(out.grid.t).toBe(1);
    expect(out.dims).toEqual([plan.grid.h * plan.grid.w, 1536]);
    expect(out.pixelValues.length).toBe(out.dims[0] * out.dims[1]);
    expect([out.resizedWidth, out.resizedHeight]).toEqual([plan.resizedWidth, plan.resizedHeight]);
    expect(out.pixelValues.every((v) => v >= -1 && v <= 1)).toBe(true);
  });

  it("repeats the image for each temporal slot", async () => {
    const out = await preprocessImage(
      { kind: "rgb", image: { data: gradient(64, 64), width: 64, height: 64 } },
      noResize,
    );
    const row = out.pixelValues.subarray(0, 1536);
    for (let c = 0; c < 3; c++) {
      const first = row.subarray(c * 512, c * 512 + 256);
      const second = row.subarray(c * 512 + 256, c * 512 + 512);
      expect(Array.from(second)).toEqual(Array.from(first));
    }
  });

  it("applies the EXIF orientation of an encoded file", async () => {
    // Stored 96 wide × 64 high, left half red, right half blue, tagged "rotate 90° clockwise to display" (6):
    // displayed it is 64 × 96 with red on top.
    const stored = new Uint8Array(96 * 64 * 3);
    for (let y = 0; y < 64; y++)
      for (let x = 0; x < 96; x++) stored.set(x < 48 ? [255, 0, 0] : [0, 0, 255], (y * 96 + x) * 3);
    const jpeg = await sharp(stored, { raw: { width: 96, height: 64, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const out = await preprocessImage({ kind: "encoded", data: jpeg }, noResize);
    expect(out.grid).toEqual({ t: 1, h: 6, w: 4 });
    const top = [0, 1, 2].map((c) => valueAt(out.pixelValues, out.grid, 30, 10, c));
    const bottom = [0, 1, 2].map((c) => valueAt(out.pixelValues, out.grid, 30, 85, c));
    expect(top[0]).toBeGreaterThan(0.9);
    expect(top[2]).toBeLessThan(-0.9);
    expect(bottom[0]).toBeLessThan(-0.9);
    expect(bottom[2]).toBeGreaterThan(0.9);
  });

  it("composites transparency over white and expands grey to RGB", async () => {
    const transparent = await sharp({
      create: { width: 64, height: 32, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const white = await preprocessImage({ kind: "encoded", data: transparent }, noResize);
    expect(white.pixelValues.every((v) => v === 1)).toBe(true);
    const grey = await sharp({ create: { width: 64, height: 32, channels: 3, background: { r: 51, g: 51, b: 51 } } })
      .toColourspace("b-w")
      .png()
      .toBuffer();
    const out = await preprocessImage({ kind: "encoded", data: grey }, noResize);
    expect(new Set(out.pixelValues)).toEqual(new Set([Math.fround(Math.fround(51 / 255 - 0.5) / 0.5)]));
  });

  it("refuses images over the configured pixel count with a typed error", async () => {
    const tooLarge = expect.objectContaining({ code: "image_too_large", fault: "request" });
    await expect(
      preprocessImage({ kind: "rgb", image: { data: gradient(64, 64), width: 64, height: 64 } }, config, {
        maxInputPixels: 4000,
      }),
    ).rejects.toThrow(tooLarge);
    const png = await sharp(gradient(64, 64), { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toBuffer();
    await expect(preprocessImage({ kind: "encoded", data: png }, config, { maxInputPixels: 4095 })).rejects.toThrow(
      tooLarge,
    );
    await expect(
      preprocessImage({ kind: "encoded", data: png }, config, { maxInputPixels: 4096 }),
    ).resolves.toBeDefined();
  });

  it("refuses unreadable files and inconsistent raw buffers", async () => {
    const invalid = expect.objectContaining({ code: "invalid_image", fault: "request" });
    await expect(preprocessImage({ kind: "encoded", data: new Uint8Array([1, 2, 3, 4]) }, config)).rejects.toThrow(
      invalid,
    );
    await expect(
      preprocessImage({ kind: "rgb", image: { data: new Uint8Array(10), width: 64, height: 64 } }, config),
    ).rejects.toThrow(invalid);
    await expect(
      preprocessImage({ kind: "rgb", image: { data: new Uint8Array(0), width: 0, height: 64 } }, config),
    ).rejects.toThrow(invalid);
  });

  it("reports images too small for the processor", async () => {
    await expect(
      preprocessImage({ kind: "rgb", image: { data: gradient(20, 64), width: 20, height: 64 } }, config),
    ).rejects.toThrow(expect.objectContaining({ code: "image_too_small" }));
  });
});
