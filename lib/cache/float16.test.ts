import { describe, expect, it } from "vitest";
import { floatToHalfBits, halfBitsToFloat, halvesToFloats } from "@/lib/cache/float16";
import { createRng } from "@/lib/model/sampling/prng";

const isNaNHalf = (bits: number) => (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;

describe("float16", () => {
  // Expected bit patterns are IEEE 754 binary16 facts (e.g. 1 = 0x3c00, the largest finite half 65504 = 0x7bff).
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [1 / 3, 0x3555],
    [0.1, 0x2e66],
    [65504, 0x7bff],
    [65519.99, 0x7bff], // just below the midpoint to 65536: stays finite
    [65520, 0x7c00], // the midpoint rounds to even, which is Infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [1023.5 * 2 ** -24, 0x0400], // tie between 0x3ff (odd) and 0x400: to even, into the normal range
    [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: to even (zero)
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // 1.5 units: tie between 1 and 2, to even
    [2 ** -26, 0x0000],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1 + 2^-10: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 1 + 2^-10 (odd) and 1 + 2^-9: to even
    [0, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [1e30, 0x7c00],
  ])("encodes %d as half bits %i", (value, bits) => {
    expect(floatToHalfBits(value)).toBe(bits);
  });

  it("keeps NaN a NaN", () => {
    expect(isNaNHalf(floatToHalfBits(NaN))).toBe(true);
    expect(halfBitsToFloat(0x7e00)).toBeNaN();
  });

  it("decodes every half exactly and encodes it back to the same bits", () => {
    const failures: number[] = [];
    let checked = 0;
    for (let bits = 0; bits < 0x10000; bits++) {
      if (isNaNHalf(bits)) continue;
      const value = halfBitsToFloat(bits);
      if (Math.fround(value) !== value || floatToHalfBits(value) !== bits) failures.push(bits);
      checked += 1;
    }
    expect(checked).toBe(0x10000 - 2 * 1023);
    expect(failures).toEqual([]);
  });

  it("decodes known patterns", () => {
    expect(halfBitsToFloat(0x3c00)).toBe(1);
    expect(halfBitsToFloat(0x7bff)).toBe(65504);
    expect(halfBitsToFloat(0x0001)).toBe(2 ** -24);
    expect(Object.is(halfBitsToFloat(0x8000), -0)).toBe(true);
    expect(halfBitsToFloat(0xfc00)).toBe(-Infinity);
  });

  it("rounds random floats to a nearest half (no neighbour is closer)", () => {
    const rng = createRng(16);
    const notNearest: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const magnitude = 2 ** (Math.floor(rng.nextFloat() * 44) - 28); // spans subnormals to 2^15
      const value = Math.fround((rng.nextFloat() * 2 - 1) * magnitude);
      const bits = floatToHalfBits(value);
      const error = Math.abs(value - halfBitsToFloat(bits));
      const magnitudeBits = bits & 0x7fff;
      for (const neighbour of [magnitudeBits - 1, magnitudeBits + 1]) {
        if (neighbour < 0 || neighbour > 0x7bff) continue;
        if (error > Math.abs(value - halfBitsToFloat((bits & 0x8000) | neighbour))) notNearest.push(value);
      }
    }
    expect(notNearest).toEqual([]);
  });

  it("decodes arrays of halves like the scalar function, NaN included", () => {
    const halves = new Uint16Array([0x3400, 0xc300, 0x0011, 0x7bff, 0xfc00, 0x7e00]);
    const floats = [...halvesToFloats(halves)];
    expect(floats.slice(0, 5)).toEqual([0.25, -3.5, 17 * 2 ** -24, 65504, -Infinity]);
    expect(floats[5]).toBeNaN();
  });
});
