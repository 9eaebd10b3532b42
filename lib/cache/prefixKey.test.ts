import { describe, expect, it } from "vitest";
import { parseImageId } from "@/lib/ids";
import { featureKey, preprocessDigest } from "@/lib/cache/featureIdentity";
import { buildPrefixKey, imageKeyToken } from "@/lib/cache/prefixKey";

const feature = (c: string, storage: "fp32" | "int8" = "fp32") =>
  featureKey({ imageId: parseImageId(c.repeat(64))!, preprocess: preprocessDigest({ maxPixels: 1024 }), storage });
const PAD = 151655;

describe("buildPrefixKey", () => {
  it("keeps text token ids and replaces each image position by its image and index", () => {
    const key = buildPrefixKey([10, 11, PAD, PAD, PAD, 12], [{ start: 2, length: 3, feature: feature("a") }]);
    const a = feature("a");
    expect(key).toEqual([10, 11, `img:${a}:0`, `img:${a}:1`, `img:${a}:2`, 12]);
    expect(imageKeyToken(a, 1)).toBe(`img:${a}:1`);
  });

  it("makes two same-size images, or one image stored two ways, differ at their first image token", () => {
    const ids = [1, PAD, PAD, 2];
    const keyOf = (f: ReturnType<typeof feature>) => buildPrefixKey(ids, [{ start: 1, length: 2, feature: f }]);
    const firstDifference = (x: readonly unknown[], y: readonly unknown[]) => x.findIndex((t, i) => t !== y[i]);
    expect(firstDifference(keyOf(feature("a")), keyOf(feature("b")))).toBe(1);
    expect(firstDifference(keyOf(feature("a")), keyOf(feature("a", "int8")))).toBe(1);
    expect(firstDifference(keyOf(feature("a")), keyOf(feature("a")))).toBe(-1);
  });

  it("never lets an image token equal a text token", () => {
    const key = buildPrefixKey([PAD, PAD], [{ start: 0, length: 1, feature: feature("a") }]);
    expect(key[0]).not.toBe(PAD);
    expect(key[1]).toBe(PAD);
  });

  it("handles several images and leaves the input untouched", () => {
    const ids = [PAD, PAD, 5, PAD, PAD];
    const key = buildPrefixKey(ids, [
      { start: 0, length: 2, feature: feature("a") },
      { start: 3, length: 2, feature: feature("b") },
    ]);
    expect(key.map((t) => (typeof t === "string" ? t.slice(0, 5) + t.slice(-2) : t))).toEqual([
      "img:a:0",
      "img:a:1",
      5,
      "img:b:0",
      "img:b:1",
    ]);
    expect(ids).toEqual([PAD, PAD, 5, PAD, PAD]);
  });

  it("refuses spans that overlap, are out of order, leave the prompt or are empty", () => {
    const ids = [PAD, PAD, PAD, PAD];
    const span = (start: number, length: number) => ({ start, length, feature: feature("a") });
    expect(() => buildPrefixKey(ids, [span(0, 2), span(1, 2)])).toThrow(/image span 1/);
    expect(() => buildPrefixKey(ids, [span(2, 2), span(0, 2)])).toThrow(/image span 1/);
    expect(() => buildPrefixKey(ids, [span(3, 2)])).toThrow(/leaves the 4 prompt tokens/);
    expect(() => buildPrefixKey(ids, [span(0, 0)])).toThrow(/length ≥ 1/);
    expect(() => buildPrefixKey(ids, [span(0.5, 1)])).toThrow(RangeError);
  });
});
