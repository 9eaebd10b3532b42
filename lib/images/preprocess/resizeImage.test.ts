import { describe, expect, it } from "vitest";
import { resizeImage, type RgbImage } from "@/lib/images/preprocess/resizeImage";

function image(width: number, height: number, pixel: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = pixel(x, y, c);
  return { data, width, height };
}

const at = (img: RgbImage, x: number, y: number, c: number) => img.data[(y * img.width + x) * 3 + c];

describe("resizeImage", () => {
  it.each([
    [64, 48, 32, 24],
    [64, 48, 160, 48],
    [64, 48, 64, 130],
    [64, 48, 40, 96],
    [300, 200, 32, 32],
  ])("keeps a flat colour flat (%i×%i → %i×%i)", async (w, h, tw, th) => {
    const out = await resizeImage(
      image(w, h, (_x, _y, c) => [200, 17, 99][c]),
      tw,
      th,
    );
    expect([out.width, out.height, out.data.length]).toEqual([tw, th, tw * th * 3]);
    const off = out.data.filter((v, i) => v !== [200, 17, 99][i % 3]).length;
    expect(off).toBe(0);
  });

  it("returns the same pixels when the size does not change", async () => {
    const src = image(20, 10, (x, y, c) => (x * 13 + y * 7 + c * 50) % 256);
    expect((await resizeImage(src, 20, 10)).data).toEqual(src.data);
  });

  it("keeps pixel centres aligned when enlarging: a ramp stays a ramp, centred", async () => {
    // Horizontal ramp 0, 10, …, 150; enlarging 2× puts output pixel j at input (j + ½)/2 − ½, value 5·j − 2.5.
    const out = await resizeImage(
      image(16, 4, (x) => x * 10),
      32,
      4,
    );
    for (let j = 4; j < 28; j++) expect(Math.abs(at(out, j, 1, 0) - (5 * j - 2.5))).toBeLessThanOrEqual(1);
  });

  it("averages when reducing: a 2× reduction of a ramp lands between the source pairs", async () => {
    const out = await resizeImage(
      image(4, 32, (_x, y) => y * 8),
      4,
      16,
    );
    for (let j = 2; j < 14; j++) expect(Math.abs(at(out, 2, j, 2) - (16 * j + 4))).toBeLessThanOrEqual(1);
  });

  it("resizes each axis independently (reduce one, enlarge the other)", async () => {
    const src = image(40, 20, (x, y) => (x < 20 ? 0 : 255) ^ (y < 10 ? 0 : 255));
    const out = await resizeImage(src, 20, 40);
    expect(at(out, 2, 2, 0)).toBe(0);
    expect(at(out, 17, 2, 0)).toBe(255);
    expect(at(out, 2, 37, 0)).toBe(255);
    expect(at(out, 17, 37, 0)).toBe(0);
  });
});
