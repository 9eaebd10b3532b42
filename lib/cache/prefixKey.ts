/**
 * The key under which a prompt's KV is stored in the prefix tree (prefixTree.ts): one key token per prompt position.
 *
 * A text token's key token is its id (a number). An image token's key token is the string `img:<featureKey>:<k>`, k
 * being its index within the image: the image pad tokens of every image share one token id, so keying them by id would
 * let two different images of the same size share KV.
 *
 * Invariant: two key tokens are equal (===) exactly when they stand for the same thing — the same text token id, or
 * the same position of the same image features (pixels + preprocessing + storage, see featureIdentity.ts
 * `featureKey`). A number never equals a string, so text never matches an image. Hence two prompts that differ only in
 * an image diverge at that image's first token, and a shared key prefix always means shared inputs — the condition for
 * sharing KV.
 */

import type { FeatureKey } from "@/lib/cache/featureIdentity";

export type KeyToken = number | string;
export type PrefixKey = readonly KeyToken[];

/** Where one image's tokens sit in a prompt: positions [start, start + length). */
export interface ImageSpan {
  readonly start: number;
  readonly length: number;
  readonly feature: FeatureKey;
}

export function imageKeyToken(feature: FeatureKey, index: number): string {
  return `img:${feature}:${index}`;
}

/** `images` in prompt order, not overlapping, inside `inputIds`; a RangeError names the first span that is not. */
export function buildPrefixKey(inputIds: readonly number[], images: readonly ImageSpan[]): PrefixKey {
  const key: KeyToken[] = inputIds.slice();
  let previousEnd = 0;
  images.forEach((span, i) => {
    const { start, length } = span;
    if (!Number.isInteger(start) || !Number.isInteger(length) || length < 1) {
      throw new RangeError(`image span ${i}: start ${start} and length ${length} must be integers, length ≥ 1`);
    }
    if (start < previousEnd || start + length > inputIds.length) {
      throw new RangeError(
        `image span ${i}: [${start}, ${start + length}) overlaps the previous span or leaves the ${inputIds.length} prompt tokens`,
      );
    }
    for (let k = 0; k < length; k++) key[start + k] = imageKeyToken(span.feature, k);
    previousEnd = start + length;
  });
  return key;
}
