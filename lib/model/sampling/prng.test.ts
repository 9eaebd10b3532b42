import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createRng, MAX_SEED } from "@/lib/model/sampling/prng";

function draws(seed: number, n: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.nextFloat());
}

describe("createRng", () => {
  it("gives the same stream for the same seed and different streams for different seeds", () => {
    expect(draws(42, 100)).toEqual(draws(42, 100));
    expect(draws(42, 100)).not.toEqual(draws(43, 100));
    // Seeds that differ only in the high 32-bit word must differ too.
    expect(draws(7, 20)).not.toEqual(draws(7 + 2 ** 32, 20));
  });

  it("gives the same stream in a separate process", () => {
    const script =
      'import { createRng } from "./lib/model/sampling/prng.ts";' +
      "const r = createRng(123456789); console.log(JSON.stringify(Array.from({ length: 50 }, () => r.nextFloat())));";
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", script], {
      cwd: process.cwd(),
      encoding: "utf8",
    });
    expect(JSON.parse(out.trim())).toEqual(draws(123456789, 50));
  });

  it("is uniform on [0, 1): chi-square over 20 bins and the moments", () => {
    const n = 200_000;
    const bins = new Array(20).fill(0);
    let sum = 0;
    let sumSq = 0;
    let outside = 0;
    for (const u of draws(2024, n)) {
      if (!(u >= 0 && u < 1)) outside++;
      bins[Math.floor(u * 20)]++;
      sum += u;
      sumSq += u * u;
    }
    expect(outside).toBe(0);
    const expected = n / 20;
    const chiSquare = bins.reduce((acc, observed) => acc + (observed - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: the 99.9th percentile is 43.8.
    expect(chiSquare).toBeLessThan(43.8);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sumSq / n - 1 / 3)).toBeLessThan(0.005);
  });

  it("produces 32-bit integers that use every bit", () => {
    const rng = createRng(9);
    let orAll = 0;
    let andAll = 0xffffffff;
    for (let i = 0; i < 1000; i++) {
      const x = rng.nextUint32();
      expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
      orAll = (orAll | x) >>> 0;
      andAll = (andAll & x) >>> 0;
    }
    expect(orAll).toBe(0xffffffff);
    expect(andAll).toBe(0);
  });

  it("rejects seeds that are not exact non-negative integers", () => {
    expect(() => createRng(-1)).toThrow(RangeError);
    expect(() => createRng(1.5)).toThrow(RangeError);
    expect(() => createRng(MAX_SEED + 1)).toThrow(RangeError);
    expect(() => createRng(MAX_SEED)).not.toThrow();
  });
});
