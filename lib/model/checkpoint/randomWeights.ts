/**
 * Deterministic random weights for synthetic checkpoints. Each tensor's values depend only on (seed, tensor name,
 * shape): its stream is seeded from SHA-256(seed, name), so tensors can be generated in any order, one at a time, and
 * two runs with the same seed write byte-identical checkpoints.
 *
 * Scales are chosen so the untrained model still behaves like a network rather than noise or a fixed point: norm
 * scales ≈ 1 (with a little spread, so a broadcasting mistake shows up in parity), embeddings N(0, 1)-like, and
 * Linear/Conv weights with std PROJECTION_GAIN/√fan_in. With gain 1 a small tied model settles on repeating one token
 * (the token's own embedding dominates the residual stream and wins the tied lm_head); gain 2 lets the layers
 * dominate, and the tiny preset then produces varied greedy sequences with top-1/top-2 margins well above 1e-4.
 */

import { createHash } from "node:crypto";
import { createRng } from "@/lib/model/sampling/prng";

export const PROJECTION_GAIN = 2;
export const EMBEDDING_STD = 1;

export interface InitSpec {
  readonly mean: number;
  readonly std: number;
}

/** Initialisation of a checkpoint tensor, by its transformers name and shape. */
export function initFor(name: string, shape: readonly number[]): InitSpec {
  if (/(^|\.)(embed_tokens|lm_head)\.weight$/.test(name)) return { mean: 0, std: EMBEDDING_STD };
  if (/norm\d?\.weight$/.test(name)) return { mean: 1, std: 0.1 };
  if (name.endsWith(".bias")) return { mean: 0, std: 0.05 };
  if (name.endsWith("pos_embed.weight")) return { mean: 0, std: 0.5 };
  if (shape.length >= 2) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    return { mean: 0, std: PROJECTION_GAIN / Math.sqrt(fanIn) };
  }
  return { mean: 0, std: 0.1 };
}

/** A 53-bit seed for one tensor's stream, from the run seed and the tensor name. */
export function tensorSeed(seed: number, name: string): number {
  const digest = createHash("sha256").update(`${seed}\u0000${name}`).digest();
  return digest.readUInt32BE(0) * 2 ** 21 + (digest.readUInt32BE(4) >>> 11);
}

/** Uniform values with the given mean and std (uniform keeps generation to one draw per value). */
export function randomTensor(
  seed: number,
  name: string,
  shape: readonly number[],
  init: InitSpec = initFor(name, shape),
): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const rng = createRng(tensorSeed(seed, name));
  const halfWidth = Math.sqrt(3) * init.std;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = init.mean + halfWidth * (rng.nextUint32() / 2 ** 31 - 1);
  return out;
}
