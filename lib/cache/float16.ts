/**
 * IEEE 754 binary16 ("half") conversion, bit-exact, for storing vision features at half the bytes of fp32.
 *
 * Node 20 has no Float16Array, so halves travel as their 16 raw bits in a Uint16Array.
 * float → half rounds to nearest, ties to even (the IEEE default, and what PyTorch's `.half()` does), including into
 * and out of the subnormal range; values past 65504 after rounding become ±Infinity; NaN stays NaN (quiet, sign kept).
 * half → float is exact: every half is a float32.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;

  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);

  // Rebias from float32 (127) to half (15).
  const halfExponent = exponent - 112;
  if (halfExponent >= 0x1f) return sign | 0x7c00;

  if (halfExponent <= 0) {
    // Subnormal half (or zero): the value is mantissa24 · 2^(exponent − 150); a half subnormal counts units of 2^−24,
    // so shift the 24-bit significand right by (126 − exponent) = (14 − halfExponent).
    if (halfExponent < -10) return sign; // below 2^−25: rounds to zero
    return sign | roundShift(mantissa | 0x800000, 14 - halfExponent);
  }
  // Normal half: a carry out of the mantissa correctly bumps the exponent (and reaches Infinity from 65504+).
  return sign | ((halfExponent << 10) + roundShift(mantissa, 13));
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

export function halfBitsToFloat(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** All 65 536 halves as floats (256 KiB), built on first use: decoding a record is then one lookup per element. */
let halfTable: Float32Array | null = null;

export function halvesToFloats(halves: Uint16Array): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) halfTable[bits] = halfBitsToFloat(bits);
  }
  const values = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) values[i] = halfTable[halves[i]];
  return values;
}
