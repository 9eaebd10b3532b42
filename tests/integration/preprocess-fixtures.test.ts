import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { preprocessImage } from "@/lib/images/preprocess/preprocessImage";
import { loadPreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";
import { readNpy } from "@/tests/integration/engineFixtures";

/**
 * Image side of the PyTorch parity fixtures: every fixture image (EXIF orientation applied, as the fixture did) goes
 * through preprocessImage with the fixture's preprocessor_config.json and must give the reference grid and shape
 * exactly and pixel values within tolerance (PIL's bicubic and libvips' differ in rounding: mean |Δ| ≤ 0.02,
 * p99 |Δ| ≤ 0.1 in normalised units; one 8-bit level is 2/255 ≈ 0.0078 here).
 */
const FIXTURES = path.resolve("fixtures/parity");
const names = readdirSync(FIXTURES).filter((name) => !name.startsWith("."));

interface ImageOutput {
  grid_thw: [number, number, number];
  shape: [number, number];
  resized_size: [number, number];
}

describe.each(names)("fixture %s", (name) => {
  const imagesDir = path.join(FIXTURES, name, "images");
  const outputs = JSON.parse(readFileSync(path.join(imagesDir, "preprocess.json"), "utf8")).outputs as Record<string, ImageOutput>;

  it.each(Object.keys(outputs))("preprocesses %s like the reference processor", async (image) => {
    const config = await loadPreprocessorConfig(path.join(FIXTURES, name, "model"));
    const out = await preprocessImage({ kind: "encoded", data: readFileSync(path.join(imagesDir, image)) }, config);
    const reference = readNpy(path.join(imagesDir, `${image}.pixel_values.npy`));
    const expected = outputs[image];
    expect(out.gridThw).toEqual(expected.grid_thw);
    expect(out.dims).toEqual(expected.shape);
    expect(reference.shape).toEqual(expected.shape);
    expect([out.resizedWidth, out.resizedHeight]).toEqual(expected.resized_size);

    const want = reference.data as Float32Array;
    const diffs = Float64Array.from(want, (v, i) => Math.abs(v - out.pixelValues[i])).sort();
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    const p99 = diffs[Math.floor(0.99 * (diffs.length - 1))];
    expect(mean).toBeLessThanOrEqual(0.02);
    expect(p99).toBeLessThanOrEqual(0.1);
  });
});
