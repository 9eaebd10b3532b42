/**
 * Names of the L2 store tier's KV blocks: a prompt's key (prefixKey.ts) cut into fixed-size blocks of `blockTokens`
 * positions, each named by a hash chain — block i's hash covers the block size, block i−1's hash and block i's key
 * tokens — as LMCache names the chunks it keeps for vLLM.
 *
 * Image tokens are key tokens of the form `img:<featureKey>:<k>` (prefixKey.ts), so the identity of any image inside a
 * block (its pixels, preprocessing and feature dtype) is part of the block's hash. Tenant and model are not: they are
 * in the store key around the hash (keys.ts `l2BlockKey`).
 *
 * Invariants: two keys get the same hash for block i exactly when their first (i + 1) · blockTokens key tokens are equal
 * (up to SHA-256 collisions), so a block found under a hash holds the KV of that exact prefix's last block; only whole
 * blocks are named (a trailing part shorter than a block is never stored); hashes are 64 lowercase hex characters.
 * Pure: no I/O.
 */

import { createHash } from "node:crypto";
import type { PrefixKey } from "@/lib/cache/prefixKey";
import type { Brand } from "@/lib/ids";

export type KvBlockHash = Brand<string, "KvBlockHash">;

/**
 * Positions per block. Small enough that a turn's last, partial block costs little prefill; large enough that a
 * prompt of a few thousand tokens is a few dozen store reads.
 */
export const DEFAULT_KV_BLOCK_TOKENS = 64;

/** Bumped when what goes into a block hash changes, so older blocks stop matching. */
const CHAIN_VERSION = 1;

/** The hashes of the whole blocks of `key`, in order: ⌊key.length / blockTokens⌋ of them. */
export function kvBlockHashes(key: PrefixKey, blockTokens: number): KvBlockHash[] {
  if (!Number.isInteger(blockTokens) || blockTokens < 1)
    throw new RangeError(`kvBlockHashes: block size must be a positive integer, got ${blockTokens}`);
  const hashes: KvBlockHash[] = [];
  let parent = `vlcache-kv-blocks:v${CHAIN_VERSION}:${blockTokens}`;
  for (let start = 0; start + blockTokens <= key.length; start += blockTokens) {
    // JSON keeps numbers (text token ids) and strings (image key tokens) apart: 5 and "5" hash differently.
    const tokens = JSON.stringify(key.slice(start, start + blockTokens));
    parent = createHash("sha256").update(parent).update("\n").update(tokens).digest("hex");
    hashes.push(parent as KvBlockHash);
  }
  return hashes;
}

/** Positions of `length` covered by whole blocks. */
export function wholeBlockPositions(length: number, blockTokens: number): number {
  return Math.floor(length / blockTokens) * blockTokens;
}
