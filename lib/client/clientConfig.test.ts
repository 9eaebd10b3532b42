import { describe, expect, it } from "vitest";
import { DEFAULT_SEND_DEBOUNCE_MS, parseSendDebounceMs } from "./clientConfig";

describe("parseSendDebounceMs", () => {
  it("defaults to 300 ms when unset", () => {
    expect(DEFAULT_SEND_DEBOUNCE_MS).toBe(300);
    expect(parseSendDebounceMs(undefined)).toBe(300);
  });

  it("accepts whole milliseconds from 0 to 10000", () => {
    expect(parseSendDebounceMs("0")).toBe(0);
    expect(parseSendDebounceMs(" 750 ")).toBe(750);
    expect(parseSendDebounceMs("10000")).toBe(10_000);
  });

  it("falls back to the default for anything else", () => {
    for (const raw of ["", "-1", "2.5", "abc", "10001", "1e3"]) expect(parseSendDebounceMs(raw), raw).toBe(300);
  });
});
