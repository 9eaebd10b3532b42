/**
 * Seeded pseudo-random numbers for sampling: xoshiro128** (Blackman & Vigna) seeded through SplitMix32.
 *
 * Why a hand-rolled generator: `Math.random` cannot be seeded, and sampling must be reproducible — the same seed gives
 * the same stream of numbers in every run and every process (only 32-bit integer arithmetic is used, so there is no
 * platform-dependent rounding). That reproducibility is what lets a seeded answer be cached like a greedy one.
 */
export interface Rng {
  /** A uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number;
  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number;
}

/** Largest seed accepted: seeds are JSON numbers, so they must be exact integers. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

function splitMix32(state: number): { value: number; state: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return { value: z >>> 0, state: next };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Creates a generator from an integer seed in [0, MAX_SEED]; both 32-bit halves of the seed feed the state. */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`seed must be an integer in [0, ${MAX_SEED}], got ${seed}`);
  const low = seed >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  let mix = low ^ Math.imul(high, 0x27d4eb2d);
  const state = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const out = splitMix32(mix);
    mix = out.state;
    state[i] = out.value;
  }
  // xoshiro's one forbidden state is all zeros; SplitMix32 cannot produce four zero words in a row, but guard anyway.
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(state[1], 5), 7), 9) >>> 0;
    const t = state[1] << 9;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 11);
    return result;
  };
  return {
    nextUint32,
    nextFloat: () => {
      const high27 = nextUint32() >>> 5;
      const low26 = nextUint32() >>> 6;
      return (high27 * 67108864 + low26) / 9007199254740992;
    },
  };
}
