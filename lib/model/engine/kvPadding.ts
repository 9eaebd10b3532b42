/**
 * Capacity-padded KV for a decode loop (decodeLoop.ts), so that every decode step of a turn gets tensors of ONE size
 * back instead of one position longer each time.
 *
 * Why: on WebGPU each step's 2 · layers `present.*` outputs are new device buffers, and ORT's buffer cache decides
 * whether the ones the step before freed serve them. Its default (`bucket`) keeps at most 10–20 free buffers per size
 * bucket (16 MiB: 10), far fewer than the 56 a 28-layer step needs, so most are created anew every step whatever
 * their sizes: padding changes nothing there (2b fp32 on an H200: 15.9 → 16.7 tok/s at 4,000 context tokens, within
 * the noise). Its `simple` mode keeps every freed buffer by exact size, without a limit (executionProvider.ts,
 * `webgpuBufferCache`): with padded KV a step's presents are then the very buffers the step before freed (34.6 tok/s
 * at 4,000 tokens, 36.4 at 800), while exact KV would leave each step's 56 freed buffers, of a size never asked for
 * again, in the pool for good. So the engine pads exactly when device KV meets `simple`
 * (bench/results/gpu-kv-capacity-2026-12-03.md has the figures, and the memory `simple` costs).
 *
 * The padding never leaves the loop: the loop pads the exact cache prefill returned before its first step, pads again
 * to the next capacity when one is used up, and trims to the exact length before it hands the cache out (takeKv), so
 * caches stored in L2 or the store are exact, and every padded cache is released by the loop.
 */

import type { KvCache } from "./kvCache";
import type { KvOps } from "./kvOps";

export interface KvPadding {
  /** The capacity to pad a cache to when it must take position `length` (0-based) and is full. */
  capacityFor(length: number): number;
  /** `kv` in tensors of `capacity` positions; a new cache the caller owns. */
  pad(kv: KvCache, capacity: number): Promise<KvCache>;
  /** An exact copy (capacity = length) of a padded cache; a new cache the caller owns. */
  trim(kv: KvCache): Promise<KvCache>;
}

/** Smallest capacity handed out, in positions. */
const MIN_KV_CAPACITY = 256;

/**
 * Capacities are powers of two (at least MIN_KV_CAPACITY): few distinct sizes, since `simple` keeps the freed buffers
 * of every size it has seen, and at most one pad per doubling of a turn's length.
 */
export function paddedCapacity(length: number): number {
  let capacity = MIN_KV_CAPACITY;
  while (capacity <= length) capacity *= 2;
  return capacity;
}

/** Padding through the engine's kvOps graphs (on its provider, so device KV stays in device memory). */
export function kvOpsPadding(ops: KvOps): KvPadding {
  return {
    capacityFor: paddedCapacity,
    pad: (kv, capacity) => ops.pad(kv, capacity),
    trim: (kv) => ops.gather([{ kv, start: 0, end: kv.length }]),
  };
}
