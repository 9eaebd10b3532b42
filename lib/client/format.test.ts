import { describe, expect, it } from "vitest";
import { formatBytes, formatCount, formatDuration, formatPercent, formatTokensPerSecond } from "./format";

describe("format", () => {
  it("groups counts with commas", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(1234567)).toBe("1,234,567");
  });

  it("writes durations in ms below a second and in seconds above", () => {
    expect(formatDuration(0)).toBe("0 ms");
    expect(formatDuration(85.4)).toBe("85 ms");
    expect(formatDuration(999.4)).toBe("999 ms");
    expect(formatDuration(1240)).toBe("1.24 s");
    expect(formatDuration(12_345)).toBe("12.3 s");
  });

  it("writes bytes in binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 ** 2)).toBe("5.0 MiB");
    expect(formatBytes(3.25 * 1024 ** 3)).toBe("3.3 GiB");
  });

  it("writes ratios as whole percentages and rates with one decimal", () => {
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(0.456)).toBe("46%");
    expect(formatPercent(1)).toBe("100%");
    expect(formatTokensPerSecond(23.44)).toBe("23.4 tok/s");
  });
});
