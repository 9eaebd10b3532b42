import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { comparePreprocessing, MEAN_ABS_LIMIT, P99_ABS_LIMIT } from "@/lib/model/parity/checks/preprocessing";
import { loadFixture } from "@/lib/model/parity/fixture";

/**
 * Image side of the PyTorch parity fixtures: every fixture image (EXIF orientation applied, as the fixture did) goes
 * through preprocessImage with the fixture's preprocessor_config.json and must give the reference grid exactly and
 * pixel values within tolerance (mean |Δ| ≤ 0.02, p99 |Δ| ≤ 0.1 in normalised units).
 */
const FIXTURES = path.resolve("fixtures/parity");
const names = readdirSync(FIXTURES).filter((name) => !name.startsWith("."));

describe.each(names)("fixture %s", (name) => {
  it("preprocesses every fixture image like the reference processor", async () => {
    const comparisons = await comparePreprocessing(await loadFixture(path.join(FIXTURES, name)));
    expect(comparisons?.length).toBeGreaterThan(0);
    for (const c of comparisons ?? []) {
      expect(c.actualGrid, c.image).toEqual(c.expectedGrid);
      expect(c.stats, c.image).not.toBeNull();
      expect(c.stats?.mean, c.image).toBeLessThanOrEqual(MEAN_ABS_LIMIT);
      expect(c.stats?.p99, c.image).toBeLessThanOrEqual(P99_ABS_LIMIT);
      expect(c.pass).toBe(true);
    }
  });
});
