import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson, digestJson, type JsonValue } from "@/lib/cache/canonicalJson";

describe("canonicalJson", () => {
  it("writes object keys sorted at every depth, arrays in order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
  });

  it("gives one text for values that mean the same", () => {
    expect(canonicalJson({ x: 1.0, y: -0, z: 1e21 })).toBe(canonicalJson({ z: 1e21, y: 0, x: 1 }));
    expect(canonicalJson({ x: 1.0, y: -0 })).toBe('{"x":1,"y":0}');
  });

  it("escapes strings like JSON and keeps Unicode as given", () => {
    expect(canonicalJson(['a"b\n', "é"])).toBe('["a\\"b\\n","é"]');
    // No normalisation here: "é" precomposed and decomposed are different texts.
    expect(canonicalJson("\u00e9")).not.toBe(canonicalJson("e\u0301"));
  });

  it("refuses what JSON cannot say exactly instead of dropping it", () => {
    const refuse = (value: unknown) => () => canonicalJson(value as JsonValue);
    expect(refuse({ a: undefined })).toThrow(/\$\.a is a undefined/);
    expect(refuse({ a: [1, NaN] })).toThrow(/\$\.a\[1\] is NaN/);
    expect(refuse(Infinity)).toThrow(TypeError);
    expect(refuse(new Date(0))).toThrow(/Date, not a plain object/);
    expect(refuse(new Array(2))).toThrow(/sparse array/);
    expect(refuse(() => 1)).toThrow(/function/);
  });

  it("digests the canonical text with SHA-256", () => {
    const value = { b: [true, false], a: "x" };
    const expected = createHash("sha256").update('{"a":"x","b":[true,false]}').digest("hex");
    expect(digestJson(value)).toBe(expected);
    expect(digestJson({ a: "x", b: [true, false] })).toBe(expected);
    expect(digestJson({ a: "x", b: [false, true] })).not.toBe(expected);
  });
});
