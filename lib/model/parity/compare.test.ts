import { describe, expect, it } from "vitest";
import { compareGreedy, maxAbsDiff, topMargin } from "./compare";

describe("maxAbsDiff", () => {
  it("is the largest elementwise distance", () => {
    expect(maxAbsDiff([1, 2, 3], [1.5, 2, 0])).toBe(3);
    expect(maxAbsDiff(Float32Array.of(), Float32Array.of())).toBe(0);
  });
  it("treats NaN as an infinite difference and refuses length mismatches", () => {
    expect(maxAbsDiff([1, NaN], [1, 2])).toBe(Infinity);
    expect(() => maxAbsDiff([1], [1, 2])).toThrow(/cannot compare 1 values with 2/);
  });
});

describe("topMargin", () => {
  it("returns the argmax and its lead over the runner-up", () => {
    expect(topMargin([0.5, 3, -1, 2.25])).toEqual({ token: 1, margin: 0.75 });
    expect(topMargin([4, 1, 4])).toEqual({ token: 0, margin: 0 });
  });
});

describe("compareGreedy", () => {
  const expected = [10, 11, 12, 13];
  const margins = [1, 0.5, 5e-5, 2];
  it("accepts identical sequences", () => {
    expect(compareGreedy([10, 11, 12, 13], expected, margins, 1e-4)).toEqual({ kind: "identical", steps: 4 });
  });
  it("forgives a first difference at a reference near-tie and stops comparing there", () => {
    expect(compareGreedy([10, 11, 99, 98], expected, margins, 1e-4)).toEqual({
      kind: "forgiven_tie",
      step: 2,
      margin: 5e-5,
      steps: 4,
    });
  });
  it("reports a difference at a clear step", () => {
    expect(compareGreedy([10, 7, 12, 13], expected, margins, 1e-4)).toEqual({
      kind: "mismatch",
      step: 1,
      expected: 11,
      actual: 7,
      margin: 0.5,
      steps: 4,
    });
    expect(compareGreedy([10, 11], expected, margins, 1e-4)).toMatchObject({ kind: "forgiven_tie", step: 2 });
    expect(compareGreedy([10, 11, 12], expected, margins, 1e-4)).toMatchObject({
      kind: "mismatch",
      step: 3,
      actual: -1,
    });
  });
});
