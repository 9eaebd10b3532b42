/**
 * 64-bit SimHash (Charikar) for opt-in near-duplicate matching in L3: texts that differ by a typo, a word or
 * punctuation get fingerprints a few bits apart; unrelated texts land about 32 bits apart.
 *
 * Features are the text's words (NFKC, case-folded, letters and digits only, punctuation dropped) and every pair of
 * adjacent words, each counted as often as it occurs. Unigrams keep short questions stable under one changed word;
 * bigrams make word order matter ("dog bites man" ≠ "man bites dog"). Each feature is hashed to 64 bits (the first 8
 * bytes of its MD5 — a spread function here, not a security boundary); bit i of the fingerprint is set when the
 * features whose hash has bit i set outweigh those that do not.
 *
 * The fingerprint is 16 lowercase hex characters, so it can be stored as-is next to an L3 entry.
 * A text with no words hashes to all zeros.
 */

import { createHash } from "node:crypto";
import type { Brand } from "@/lib/ids";
import { normalizeText } from "@/lib/cache/textNormalize";

export type SimHash64 = Brand<string, "SimHash64">;

/** Maximum Hamming distance still counted as a near duplicate; chosen on the labelled pairs in simhash.test.ts. */
export const DEFAULT_NEAR_DUPLICATE_DISTANCE = 8;

const WORD = /[\p{L}\p{N}]+/gu;

export function simHash(text: string): SimHash64 {
  const words = normalizeText(text, { caseFold: true }).match(WORD) ?? [];
  const votes = new Int32Array(64);
  const vote = (feature: string) => {
    const digest = createHash("md5").update(feature, "utf8").digest();
    for (let byte = 0; byte < 8; byte++) {
      const bits = digest[byte];
      for (let bit = 0; bit < 8; bit++) votes[byte * 8 + bit] += (bits >>> (7 - bit)) & 1 ? 1 : -1;
    }
  };
  words.forEach((word, i) => {
    vote(word);
    if (i > 0) vote(`${words[i - 1]} ${word}`);
  });
  let hex = "";
  for (let nibble = 0; nibble < 16; nibble++) {
    let value = 0;
    for (let bit = 0; bit < 4; bit++) value = (value << 1) | (votes[nibble * 4 + bit] > 0 ? 1 : 0);
    hex += value.toString(16);
  }
  return hex as SimHash64;
}

export function hammingDistance(a: SimHash64, b: SimHash64): number {
  return (
    popcount32(parseInt(a.slice(0, 8), 16) ^ parseInt(b.slice(0, 8), 16)) +
    popcount32(parseInt(a.slice(8), 16) ^ parseInt(b.slice(8), 16))
  );
}

function popcount32(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
