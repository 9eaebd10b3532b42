import { describe, expect, it } from "vitest";
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  drawFromLogits,
  softmax,
} from "@/lib/model/sampling/logitsWarpers";

const f32 = (values: number[]) => Float32Array.from(values);
const logOf = (probs: number[]) => f32(probs.map(Math.log));
const kept = (logits: Float32Array) => [...logits.keys()].filter((i) => logits[i] !== -Infinity);

describe("applyRepetitionPenalty", () => {
  it("divides positive and multiplies negative logits of tokens already present, once each", () => {
    const logits = f32([4, -2, 3, 0, -1]);
    applyRepetitionPenalty(logits, [0, 1, 1, 0, 3], 2);
    expect(Array.from(logits)).toEqual([2, -4, 3, 0, -1]);
  });

  it("is a no-op at penalty 1 and rejects ids outside the vocabulary", () => {
    const logits = f32([1, 2]);
    applyRepetitionPenalty(logits, [0, 1], 1);
    expect(Array.from(logits)).toEqual([1, 2]);
    expect(() => applyRepetitionPenalty(f32([1, 2]), [2], 1.3)).toThrow(RangeError);
  });
});

describe("applyTemperature", () => {
  it("divides every logit", () => {
    const logits = f32([1, -3, 0.5]);
    applyTemperature(logits, 0.5);
    expect(Array.from(logits)).toEqual([2, -6, 1]);
  });
});

describe("applyTopK", () => {
  it("keeps the k largest", () => {
    const logits = f32([0.1, 5, 3, -1, 4]);
    applyTopK(logits, 2);
    expect(kept(logits)).toEqual([1, 4]);
  });

  it("keeps every token tied with the k-th value", () => {
    const logits = f32([1, 3, 2, 2, 0]);
    applyTopK(logits, 2);
    expect(kept(logits)).toEqual([1, 2, 3]);
  });

  it("leaves the logits alone for k = 0 and k ≥ V", () => {
    for (const k of [0, 5, 9]) {
      const logits = f32([1, 2, 3, 4, 5]);
      applyTopK(logits, k);
      expect(kept(logits)).toEqual([0, 1, 2, 3, 4]);
    }
  });
});

describe("applyTopP", () => {
  it("keeps the smallest top set whose mass reaches top_p", () => {
    // p = [0.05, 0.45, 0.1, 0.4]: ascending cumulative 0.05, 0.15, 0.55, 1 → with top_p 0.7 the ones with cumulative
    // ≤ 0.3 go (tokens 0 and 2).
    const logits = logOf([0.05, 0.45, 0.1, 0.4]);
    applyTopP(logits, 0.7);
    expect(kept(logits)).toEqual([1, 3]);
  });

  it("keeps a token when the mass above it is still below top_p", () => {
    const logits = logOf([0.05, 0.45, 0.1, 0.4]);
    applyTopP(logits, 0.9);
    expect(kept(logits)).toEqual([1, 2, 3]);
  });

  it("always keeps the most likely token, even at top_p 0", () => {
    const logits = logOf([0.2, 0.5, 0.3]);
    applyTopP(logits, 0);
    expect(kept(logits)).toEqual([1]);
  });

  it("breaks ties at the boundary by lower token id", () => {
    // Three tokens at 0.3: the first two are kept (mass above them 0 and 0.3 < 0.5), the third is not (0.6).
    const logits = logOf([0.1, 0.3, 0.3, 0.3]);
    applyTopP(logits, 0.5);
    expect(kept(logits)).toEqual([1, 2]);
  });

  it("changes nothing at top_p 1", () => {
    const logits = logOf([0.2, 0.5, 0.3]);
    const before = Array.from(logits);
    applyTopP(logits, 1);
    expect(Array.from(logits)).toEqual(before);
  });

  it("agrees with the ascending-cumsum definition on a large random vocabulary", () => {
    const v = 5000;
    const logits = new Float32Array(v);
    let x = 12345;
    for (let i = 0; i < v; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      logits[i] = (x / 2 ** 32) * 12 - 6;
    }
    for (const topP of [0.5, 0.9, 0.99]) {
      const probs = softmax(logits);
      const ascending = [...probs.keys()].sort((a, b) => probs[a] - probs[b]);
      const expected = new Set<number>();
      let cumulative = 0;
      for (const i of ascending) {
        cumulative += probs[i];
        if (cumulative > 1 - topP) expected.add(i);
      }
      const warped = Float32Array.from(logits);
      applyTopP(warped, topP);
      expect(kept(warped)).toEqual([...expected].sort((a, b) => a - b));
    }
  });
});

describe("argmax", () => {
  it("returns the lowest index among ties", () => {
    expect(argmax(f32([1, 7, 3, 7]))).toBe(1);
    expect(argmax(f32([-Infinity, -2, -2]))).toBe(1);
  });
});

describe("drawFromLogits", () => {
  it("maps u through the cumulative distribution in token-id order", () => {
    const logits = logOf([0.25, 0.5, 0.25]);
    expect(drawFromLogits(logits, 0)).toBe(0);
    expect(drawFromLogits(logits, 0.24)).toBe(0);
    expect(drawFromLogits(logits, 0.26)).toBe(1);
    expect(drawFromLogits(logits, 0.74)).toBe(1);
    expect(drawFromLogits(logits, 0.76)).toBe(2);
    expect(drawFromLogits(logits, 0.999999999)).toBe(2);
  });

  it("never returns a removed token", () => {
    const logits = f32([-Infinity, 1, -Infinity, 1, -Infinity]);
    for (const u of [0, 0.3, 0.5, 0.7, 0.9999999999]) expect([1, 3]).toContain(drawFromLogits(logits, u));
  });

  it("rejects logits with nothing left", () => {
    expect(() => drawFromLogits(f32([-Infinity, -Infinity]), 0.5)).toThrow(RangeError);
  });
});
