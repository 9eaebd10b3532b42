import { describe, expect, it } from "vitest";
import { mropeSlotRows, ropeInverseFrequencies } from "./decoderRotary";

describe("mropeSlotRows", () => {
  it("interleaves Qwen3-VL-2B's [24, 20, 20] as T H W T H W … with the last 4 slots temporal", () => {
    const rows = mropeSlotRows(128, [24, 20, 20], true);
    expect(rows).toHaveLength(64);
    expect(rows.slice(0, 7)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(rows.slice(57)).toEqual([0, 1, 2, 0, 0, 0, 0]);
    expect(rows.filter((r) => r === 0)).toHaveLength(24);
    expect(rows.filter((r) => r === 1)).toHaveLength(20);
    expect(rows.filter((r) => r === 2)).toHaveLength(20);
  });

  it("gives a short section only its first j ≡ row (mod 3) slots", () => {
    // [2, 1, 1]: H may use slots j < 3 with j ≡ 1, W slots j < 3 with j ≡ 2.
    expect(mropeSlotRows(8, [2, 1, 1], true)).toEqual([0, 1, 2, 0]);
    // [4, 1, 3]: H only slot 1; W slots 2, 5, 8.
    expect(mropeSlotRows(16, [4, 1, 3], true)).toEqual([0, 1, 2, 0, 0, 2, 0, 0]);
  });

  it("chunks the sections in order when not interleaved", () => {
    expect(mropeSlotRows(12, [2, 2, 2], false)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it("rejects sections that do not cover head_dim / 2", () => {
    expect(() => mropeSlotRows(16, [4, 2, 1], true)).toThrow(/sum/);
  });
});

describe("ropeInverseFrequencies", () => {
  it("is 1 / theta^(2j/D)", () => {
    const inv = ropeInverseFrequencies(8, 10000);
    expect(inv[0]).toBe(1);
    expect(inv[2]).toBeCloseTo(0.01, 7);
    expect(inv[3]).toBeCloseTo(10000 ** -0.75, 9);
  });
});
