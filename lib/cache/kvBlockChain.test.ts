import { describe, expect, it } from "vitest";
import { kvBlockHashes, wholeBlockPositions } from "@/lib/cache/kvBlockChain";
import { imageKeyToken, type KeyToken } from "@/lib/cache/prefixKey";
import type { FeatureKey } from "@/lib/cache/featureIdentity";

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const image = (name: string, tokens: number): KeyToken[] =>
  range(0, tokens).map((k) => imageKeyToken(name as FeatureKey, k));

describe("kvBlockHashes", () => {
  it("names only whole blocks, as 64-hex hashes", () => {
    expect(kvBlockHashes(range(0, 7), 4)).toHaveLength(1);
    expect(kvBlockHashes(range(0, 8), 4)).toHaveLength(2);
    expect(kvBlockHashes(range(0, 3), 4)).toEqual([]);
    for (const hash of kvBlockHashes(range(0, 12), 4)) expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(wholeBlockPositions(130, 64)).toBe(128);
    expect(wholeBlockPositions(63, 64)).toBe(0);
  });

  it("gives keys sharing a prefix the same hashes exactly for the blocks inside the shared part", () => {
    const a = kvBlockHashes([...range(0, 10), 100, 101], 4);
    const b = kvBlockHashes([...range(0, 10), 200, 201], 4);
    // Blocks [0,4) and [4,8) are shared; [8,12) differs in its last two tokens.
    expect(b.slice(0, 2)).toEqual(a.slice(0, 2));
    expect(b[2]).not.toBe(a[2]);
  });

  it("chains: a block's hash depends on every block before it, not only on its own tokens", () => {
    const a = kvBlockHashes([1, 2, 3, 4, 9, 9, 9, 9], 4);
    const b = kvBlockHashes([5, 6, 7, 8, 9, 9, 9, 9], 4);
    expect(b[0]).not.toBe(a[0]);
    expect(b[1]).not.toBe(a[1]);
  });

  it("tells two images of the same size apart, and a text token from its string", () => {
    const withCat = kvBlockHashes([1, 2, ...image("cat", 6)], 4);
    const withDog = kvBlockHashes([1, 2, ...image("dog", 6)], 4);
    expect(withDog[0]).not.toBe(withCat[0]);
    expect(withDog[1]).not.toBe(withCat[1]);
    expect(kvBlockHashes([1, 2, 3, 4], 4)[0]).not.toBe(kvBlockHashes([1, 2, 3, "4"], 4)[0]);
  });

  it("depends on the block size, so blocks of another size never match", () => {
    const key = range(0, 8);
    expect(kvBlockHashes(key, 8)[0]).not.toBe(kvBlockHashes(key, 4)[1]);
    expect(() => kvBlockHashes(key, 0)).toThrow(RangeError);
  });
});
