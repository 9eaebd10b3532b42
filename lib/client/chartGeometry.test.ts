import { describe, expect, it } from "vitest";
import { labelStride, linePath, linearScale, niceTicks } from "./chartGeometry";

describe("linearScale", () => {
  it("maps the domain onto the range, inverted ranges included", () => {
    const y = linearScale([0, 1], [200, 0]);
    expect(y(0)).toBe(200);
    expect(y(0.25)).toBe(150);
    expect(y(1)).toBe(0);
  });

  it("maps a degenerate domain to the middle", () => {
    expect(linearScale([5, 5], [0, 100])(5)).toBe(50);
  });
});

describe("niceTicks", () => {
  it("picks steps of 1, 2 or 5 times a power of ten", () => {
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.5, 1]);
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 7, 3)).toEqual([0, 5]);
    expect(niceTicks(0, 0.3, 3)).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it("starts at the first step inside the range", () => {
    expect(niceTicks(13, 61, 5)).toEqual([20, 30, 40, 50, 60]);
  });

  it("returns the single value of an empty range", () => {
    expect(niceTicks(4, 4, 5)).toEqual([4]);
  });
});

describe("linePath", () => {
  it("draws through the points and breaks at nulls", () => {
    expect(
      linePath([
        { x: 0, y: 10 },
        { x: 1.006, y: 20.333 },
        { x: 2, y: null },
        { x: 3, y: 5 },
        { x: 4, y: 6 },
      ]),
    ).toBe("M0 10 L1.01 20.33 M3 5 L4 6");
  });

  it("is empty without values", () => {
    expect(linePath([{ x: 0, y: null }])).toBe("");
  });
});

describe("labelStride", () => {
  it("labels every slot when the labels fit", () => {
    expect(labelStride(["≤ 5 ms", "≤ 10 ms"], 60, 10)).toBe(1);
  });

  it("skips slots so that the widest label and a gap fit between two shown labels", () => {
    // 8 characters at 10 px ≈ 49.6 px + 6 px gap = 55.6 px: two 30 px slots hold it, one does not.
    expect(labelStride(["≤ 250 ms", "≤ 1 s"], 30, 10)).toBe(2);
    expect(labelStride(["≤ 250 ms"], 10, 10)).toBe(6);
  });
});
