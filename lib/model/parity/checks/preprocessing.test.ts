import { describe, expect, it } from "vitest";
import { absDiffStats } from "@/lib/model/parity/checks/preprocessing";

describe("absDiffStats", () => {
  it("gives mean, nearest-rank p99 and max of |Δ|", () => {
    // 200 values: 197 exact, then differences 0.5, 1, 2 → p99 is rank 198 of 200 (0.5), max 2, mean 3.5/200.
    const expected = new Float32Array(200);
    const actual = new Float32Array(200);
    actual[10] = 0.5;
    actual[20] = -1;
    actual[30] = 2;
    expect(absDiffStats(actual, expected)).toEqual({ mean: 3.5 / 200, p99: 0.5, max: 2 });
  });

  it("treats NaN as infinitely far and refuses different lengths", () => {
    expect(absDiffStats([Number.NaN], [0]).max).toBe(Number.POSITIVE_INFINITY);
    expect(() => absDiffStats([1, 2], [1])).toThrow();
  });
});
