import { describe, expect, it } from "vitest";
import { createRng } from "@/lib/model/sampling/prng";
import {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  fromBfloat16Array,
  fromFloat16Array,
  toBfloat16Array,
  toFloat16Array,
} from "./float16";

describe("float16", () => {
  it("encodes exactly representable values to their IEEE bit patterns", () => {
    expect(float32ToFloat16Bits(0)).toBe(0x0000);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff); // largest finite half
    expect(float32ToFloat16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
  });

  it("rounds to nearest, ties to even, like numpy", () => {
    // 1 + 2^-11 is exactly halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1.0).
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even) → rounds up.
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // Half of the smallest subnormal ties to zero; a little more rounds up.
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000);
    expect(float32ToFloat16Bits(2 ** -25 + 2 ** -30)).toBe(0x0001);
  });

  it("overflows to infinity and keeps NaN", () => {
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // rounds past the largest finite half
    expect(float32ToFloat16Bits(1e10)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
  });

  it("decodes normals, subnormals and specials", () => {
    expect(float16BitsToFloat32(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity);
  });

  it("round-trips every finite half exactly", () => {
    const mismatches: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const isSpecial = ((bits >>> 10) & 0x1f) === 0x1f;
      if (!isSpecial && float32ToFloat16Bits(float16BitsToFloat32(bits)) !== bits) mismatches.push(bits);
    }
    expect(mismatches).toEqual([]);
  });

  // Expected bit patterns are IEEE 754 binary16 facts.
  it.each([
    [1 / 3, 0x3555],
    [0.1, 0x2e66],
    [65519.99, 0x7bff], // just below the midpoint to 65536: stays finite
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [1023.5 * 2 ** -24, 0x0400], // tie between 0x3ff (odd) and 0x400: to even, into the normal range
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // 1.5 units: tie between 1 and 2, to even
    [2 ** -26, 0x0000],
  ])("encodes %d as half bits %i", (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  it("rounds random floats to a nearest half (no neighbour is closer)", () => {
    const rng = createRng(16);
    const notNearest: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const magnitude = 2 ** (Math.floor(rng.nextFloat() * 44) - 28); // spans subnormals to 2^15
      const value = Math.fround((rng.nextFloat() * 2 - 1) * magnitude);
      const bits = float32ToFloat16Bits(value);
      const error = Math.abs(value - float16BitsToFloat32(bits));
      const magnitudeBits = bits & 0x7fff;
      for (const neighbour of [magnitudeBits - 1, magnitudeBits + 1]) {
        if (neighbour < 0 || neighbour > 0x7bff) continue;
        if (error > Math.abs(value - float16BitsToFloat32((bits & 0x8000) | neighbour))) notNearest.push(value);
      }
    }
    expect(notNearest).toEqual([]);
  });

  it("widens arrays of halves like the scalar function, NaN included", () => {
    const floats = [...fromFloat16Array(new Uint16Array([0x3400, 0xc300, 0x0011, 0x7bff, 0xfc00, 0x7e00]))];
    expect(floats.slice(0, 5)).toEqual([0.25, -3.5, 17 * 2 ** -24, 65504, -Infinity]);
    expect(floats[5]).toBeNaN();
  });

  it("converts arrays both ways", () => {
    const values = Float32Array.from([0.5, -1.25, 3.0]);
    expect(Array.from(fromFloat16Array(toFloat16Array(values)))).toEqual([0.5, -1.25, 3.0]);
  });
});

describe("bfloat16", () => {
  it("widens by placing the bits on top of a float32", () => {
    expect(Array.from(fromBfloat16Array(Uint16Array.of(0x3f80, 0xc040, 0x0000)))).toEqual([1, -3, 0]);
  });

  it("rounds to nearest even when narrowing", () => {
    // 1 + 2^-8 is halfway between bf16 1.0 (0x3f80, even) and 1 + 2^-7 (0x3f81) → 1.0.
    expect(Array.from(toBfloat16Array(Float32Array.of(1 + 2 ** -8)))).toEqual([0x3f80]);
    // 1 + 3·2^-8 is halfway between 0x3f81 (odd) and 0x3f82 (even) → up.
    expect(Array.from(toBfloat16Array(Float32Array.of(1 + 3 * 2 ** -8)))).toEqual([0x3f82]);
    expect(Array.from(toBfloat16Array(Float32Array.of(1 + 2 ** -8 + 2 ** -12)))).toEqual([0x3f81]);
    expect(Number.isNaN(fromBfloat16Array(toBfloat16Array(Float32Array.of(NaN)))[0])).toBe(true);
  });
});
