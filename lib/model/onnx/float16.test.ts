import { describe, expect, it } from "vitest";
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
