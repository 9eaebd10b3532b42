/**
 * Image preprocessing parity: each fixture image (`images/<name>`, listed in images/preprocess.json) goes through
 * vlcache's preprocessImage with the checkpoint's preprocessor_config.json — EXIF orientation applied first, as the
 * fixture did — and is compared with `<name>.pixel_values.npy`. The grid must be identical; pixel values may differ a
 * little because libvips' bicubic is not bit-identical to PIL's (one 8-bit level is 2/255 ≈ 0.0078 after a
 * mean 0.5 / std 0.5 normalisation).
 */

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { preprocessImage } from "@/lib/images/preprocess/preprocessImage";
import { loadPreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";
import { npyAsFloat32 } from "@/lib/model/npy";
import type { ParityFixture } from "../fixture";
import { notApplicable, type CheckRow, type ParityCheck } from "../types";

export const MEAN_ABS_LIMIT = 0.02;
export const P99_ABS_LIMIT = 0.1;
const METRIC = "grid; mean / p99 / max |Δ|";
const THRESHOLD = `same grid; ≤ ${MEAN_ABS_LIMIT} / ≤ ${P99_ABS_LIMIT} / -`;

export interface AbsDiffStats {
  mean: number;
  p99: number;
  max: number;
}

/** Mean, 99th percentile (nearest rank) and maximum of |actual − expected|; NaN anywhere counts as infinitely far. */
export function absDiffStats(actual: ArrayLike<number>, expected: ArrayLike<number>): AbsDiffStats {
  if (actual.length !== expected.length)
    throw new Error(`cannot compare ${actual.length} values with ${expected.length}`);
  if (actual.length === 0) return { mean: 0, p99: 0, max: 0 };
  const diffs = new Float64Array(actual.length);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    diffs[i] = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    sum += diffs[i];
  }
  diffs.sort();
  return { mean: sum / diffs.length, p99: diffs[Math.ceil(0.99 * diffs.length) - 1], max: diffs[diffs.length - 1] };
}

export interface ImagePreprocessingComparison {
  image: string;
  expectedGrid: number[];
  actualGrid: number[];
  /** null when the shapes differ and values cannot be compared. */
  stats: AbsDiffStats | null;
  pass: boolean;
}

interface PreprocessJson {
  outputs: Record<string, { grid_thw: number[]; shape: number[] }>;
}

/** Compares every image listed in the fixture's images/preprocess.json; null when the fixture has none. */
export async function comparePreprocessing(fixture: ParityFixture): Promise<ImagePreprocessingComparison[] | null> {
  const listing = path.join(fixture.dir, "images", "preprocess.json");
  if (!existsSync(listing)) return null;
  const { outputs } = JSON.parse(await readFile(listing, "utf8")) as PreprocessJson;
  const config = await loadPreprocessorConfig(fixture.modelDir);
  const comparisons: ImagePreprocessingComparison[] = [];
  for (const [image, expected] of Object.entries(outputs)) {
    const reference = await fixture.readNpy(path.join("images", `${image}.pixel_values.npy`));
    if (reference === null) throw new Error(`fixture lists ${image} but has no ${image}.pixel_values.npy`);
    const data = await readFile(path.join(fixture.dir, "images", image));
    const out = await preprocessImage({ kind: "encoded", data }, config);
    const sameShape = out.dims.join() === reference.shape.join();
    const stats = sameShape ? absDiffStats(out.pixelValues, npyAsFloat32(reference)) : null;
    const actualGrid = [out.grid.t, out.grid.h, out.grid.w];
    const sameGrid = actualGrid.join() === expected.grid_thw.join();
    comparisons.push({
      image,
      expectedGrid: expected.grid_thw,
      actualGrid,
      stats,
      pass: sameGrid && stats !== null && stats.mean <= MEAN_ABS_LIMIT && stats.p99 <= P99_ABS_LIMIT,
    });
  }
  return comparisons;
}

function row(c: ImagePreprocessingComparison): CheckRow {
  const grid = `[${c.actualGrid.join(",")}]`;
  const values =
    c.stats === null
      ? "shape differs"
      : `${c.stats.mean.toExponential(1)} / ${c.stats.p99.toExponential(1)} / ${c.stats.max.toExponential(1)}`;
  const gridNote =
    c.actualGrid.join() === c.expectedGrid.join()
      ? undefined
      : `${c.image}: grid ${grid}, reference [${c.expectedGrid.join(",")}]`;
  return {
    check: `preprocess ${c.image}`,
    metric: METRIC,
    value: `${grid}; ${values}`,
    threshold: THRESHOLD,
    pass: c.pass,
    note: gridNote,
  };
}

export const preprocessingCheck: ParityCheck = {
  name: "preprocessing",
  async run(ctx) {
    const comparisons = await comparePreprocessing(ctx.fixture);
    if (comparisons === null || comparisons.length === 0) {
      return [notApplicable("preprocess", METRIC, THRESHOLD, "fixture has no images/preprocess.json")];
    }
    return comparisons.map(row);
  },
};
