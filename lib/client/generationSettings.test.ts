import { describe, expect, it } from "vitest";
import {
  DEFAULT_GENERATION_SETTINGS,
  parseSettingInput,
  regenerateOptions,
  REGENERATE_TEMPERATURE,
  requestOptions,
  sanitizeSettings,
} from "./generationSettings";

describe("parseSettingInput", () => {
  it("accepts numbers in range as typed", () => {
    expect(parseSettingInput("maxNewTokens", "128")).toEqual({ ok: true, value: 128 });
    expect(parseSettingInput("temperature", " 0.7 ")).toEqual({ ok: true, value: 0.7 });
    expect(parseSettingInput("seed", "42")).toEqual({ ok: true, value: 42 });
  });

  it("clamps numbers outside the limits", () => {
    expect(parseSettingInput("maxNewTokens", "0")).toEqual({ ok: true, value: 1 });
    expect(parseSettingInput("maxNewTokens", "100000")).toEqual({ ok: true, value: 4096 });
    expect(parseSettingInput("temperature", "-1")).toEqual({ ok: true, value: 0 });
    expect(parseSettingInput("topP", "0")).toEqual({ ok: true, value: 0.01 });
    expect(parseSettingInput("topP", "1.5")).toEqual({ ok: true, value: 1 });
  });

  it("reads an empty seed as no seed", () => {
    expect(parseSettingInput("seed", "  ")).toEqual({ ok: true, value: null });
  });

  it("refuses text that is not a number, and fractions where whole numbers are needed", () => {
    expect(parseSettingInput("temperature", "warm")).toEqual({ ok: false, message: "Enter a number." });
    expect(parseSettingInput("maxNewTokens", "")).toEqual({ ok: false, message: "Enter a number." });
    expect(parseSettingInput("maxNewTokens", "12.5")).toEqual({ ok: false, message: "Enter a whole number." });
    expect(parseSettingInput("seed", "1.5")).toEqual({ ok: false, message: "Enter a whole number." });
  });
});

describe("requestOptions", () => {
  it("sends the defaults as greedy decoding with every cache level on and no seed", () => {
    expect(requestOptions(DEFAULT_GENERATION_SETTINGS)).toEqual({
      params: { maxNewTokens: 256, temperature: 0, topP: 1 },
      cache: { l1: true, l2: true, l3: true },
    });
  });

  it("includes the seed when one is set and each cache switch as set", () => {
    const settings = {
      ...DEFAULT_GENERATION_SETTINGS,
      temperature: 0.8,
      seed: 7,
      cache: { l1: true, l2: false, l3: false },
    };
    expect(requestOptions(settings)).toEqual({
      params: { maxNewTokens: 256, temperature: 0.8, topP: 1, seed: 7 },
      cache: { l1: true, l2: false, l3: false },
    });
  });
});

describe("sanitizeSettings", () => {
  it("keeps valid stored settings as they are", () => {
    const stored = {
      maxNewTokens: 64,
      temperature: 0.5,
      topP: 0.9,
      seed: 3,
      cache: { l1: false, l2: true, l3: false },
    };
    expect(sanitizeSettings(stored)).toEqual(stored);
  });

  it("replaces missing or invalid fields with defaults and clamps numbers", () => {
    expect(sanitizeSettings({ maxNewTokens: 1e9, temperature: "hot", seed: 2.5, cache: { l2: "no" } })).toEqual({
      maxNewTokens: 4096,
      temperature: 0,
      topP: 1,
      seed: null,
      cache: { l1: true, l2: true, l3: true },
    });
    expect(sanitizeSettings("garbage")).toEqual(DEFAULT_GENERATION_SETTINGS);
  });

  it("regenerates as a fresh sample: no response cache, sampling instead of greedy, the given seed", () => {
    expect(regenerateOptions({ ...DEFAULT_GENERATION_SETTINGS, seed: 5 }, 1234)).toEqual({
      params: { maxNewTokens: 256, temperature: REGENERATE_TEMPERATURE, topP: 1, seed: 1234 },
      cache: { l1: true, l2: true, l3: false },
    });
    const sampled = { ...DEFAULT_GENERATION_SETTINGS, temperature: 1.2, cache: { l1: false, l2: true, l3: true } };
    expect(regenerateOptions(sampled, 7)).toEqual({
      params: { maxNewTokens: 256, temperature: 1.2, topP: 1, seed: 7 },
      cache: { l1: false, l2: true, l3: false },
    });
  });
});
