import { describe, expect, it } from "vitest";
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  drawFromLogits,
} from "@/lib/model/sampling/logitsWarpers";
import { createRng } from "@/lib/model/sampling/prng";
import { isDeterministic, samplingParamsSchema, type SamplingParams } from "@/lib/model/sampling/samplingParams";
import { TokenSampler } from "@/lib/model/sampling/tokenSampler";

/** The schema's defaults: greedy. */
const GREEDY: SamplingParams = samplingParamsSchema.parse({});
const params = (overrides: Partial<SamplingParams>): SamplingParams => ({ ...GREEDY, ...overrides });

function randomLogits(v: number, seed: number): Float32Array {
  const logits = new Float32Array(v);
  let x = seed >>> 0;
  for (let i = 0; i < v; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    logits[i] = (x / 2 ** 32) * 10 - 5;
  }
  return logits;
}

/** Counts how often each token is drawn in n steps of one sampler over fixed logits. */
function histogram(sampler: TokenSampler, logits: Float32Array, n: number): number[] {
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampler.next(logits, [])]++;
  return counts;
}

/** Asserts observed counts match the expected probabilities: every count within 5 standard deviations. */
function expectDistribution(counts: number[], expected: number[]): void {
  const n = counts.reduce((a, b) => a + b, 0);
  counts.forEach((count, i) => {
    const sd = Math.sqrt(n * expected[i] * (1 - expected[i]));
    expect(Math.abs(count - n * expected[i])).toBeLessThanOrEqual(5 * sd + 1e-9);
  });
}

describe("TokenSampler", () => {
  it("is greedy at temperature 0 and ignores top-k/top-p there", () => {
    const logits = Float32Array.from([0.5, 2, 1.9, -1]);
    const sampler = new TokenSampler(params({ temperature: 0, topK: 3, topP: 0.1 }));
    expect(sampler.seed).toBeNull();
    expect(sampler.next(logits, [])).toBe(1);
  });

  it("applies the repetition penalty before the greedy argmax", () => {
    const logits = Float32Array.from([0.5, 2, 1.9, -1]);
    const sampler = new TokenSampler(params({ repetitionPenalty: 1.2 }));
    // 2 / 1.2 = 1.67 < 1.9
    expect(sampler.next(logits, [1, 1])).toBe(2);
    expect(Array.from(logits)).toEqual(Array.from(Float32Array.from([0.5, 2, 1.9, -1])));
  });

  it("with top_k 1 equals greedy at any temperature", () => {
    const sampler = new TokenSampler(params({ temperature: 1.5, topK: 1, seed: 5 }));
    for (let step = 0; step < 50; step++) {
      const logits = randomLogits(1000, step + 1);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      expect(sampler.next(logits, [])).toBe(best);
    }
  });

  it("gives the same tokens for the same seed and different ones for another seed", () => {
    const run = (seed: number) => {
      const sampler = new TokenSampler(params({ temperature: 1, topP: 0.95, seed }));
      const history: number[] = [];
      for (let step = 0; step < 40; step++) history.push(sampler.next(randomLogits(500, step), history));
      return history;
    };
    expect(run(11)).toEqual(run(11));
    expect(run(11)).not.toEqual(run(12));
  });

  it("keeps its buffers from step to step without carrying anything over: each token as from fresh arrays", () => {
    // With top-k, each step's few kept tokens sit elsewhere: a probability left from a step before would change a draw.
    const sequence = [4, 9, 4, 17];
    for (const setting of [
      { temperature: 0.7, topK: 3, topP: 0.8, repetitionPenalty: 1.05 },
      { temperature: 1.3, topK: 0, topP: 0.95, repetitionPenalty: 1 },
    ]) {
      const sampler = new TokenSampler(params({ ...setting, seed: 11 }));
      const rng = createRng(11);
      const drawn: number[] = [];
      for (let step = 0; step < 40; step++) {
        const logits = randomLogits(64, step + 7);
        const fresh = Float32Array.from(logits);
        applyRepetitionPenalty(fresh, sequence, setting.repetitionPenalty);
        applyTemperature(fresh, setting.temperature);
        applyTopK(fresh, setting.topK);
        applyTopP(fresh, setting.topP);
        const token = sampler.next(logits, sequence);
        expect(token).toBe(drawFromLogits(fresh, rng.nextFloat()));
        drawn.push(token);
      }
      // Not one token over and over: the comparison saw different draws.
      expect(new Set(drawn).size).toBeGreaterThan(5);
    }
  });

  it("draws from softmax(logits) at temperature 1", () => {
    const probs = [0.1, 0.2, 0.3, 0.4];
    const counts = histogram(
      new TokenSampler(params({ temperature: 1, seed: 1 })),
      Float32Array.from(probs.map(Math.log)),
      40_000,
    );
    expectDistribution(counts, probs);
  });

  it("sharpens with temperature: T = 0.5 squares the probabilities", () => {
    const probs = [0.1, 0.2, 0.3, 0.4];
    const squared = probs.map((p) => p * p);
    const total = squared.reduce((a, b) => a + b, 0);
    const counts = histogram(
      new TokenSampler(params({ temperature: 0.5, seed: 2 })),
      Float32Array.from(probs.map(Math.log)),
      40_000,
    );
    expectDistribution(
      counts,
      squared.map((p) => p / total),
    );
  });

  it("renormalises over the tokens top-k and top-p keep", () => {
    const probs = [0.05, 0.35, 0.1, 0.3, 0.2];
    const logits = Float32Array.from(probs.map(Math.log));
    // top-k 3 keeps {1, 3, 4} (0.35, 0.3, 0.2 → renormalised 0.4118, 0.3529, 0.2353); top-p 0.7 then keeps {1, 3}.
    const counts = histogram(new TokenSampler(params({ temperature: 1, topK: 3, topP: 0.7, seed: 3 })), logits, 30_000);
    expect(counts[0] + counts[2] + counts[4]).toBe(0);
    expectDistribution(counts, [0, 0.35 / 0.65, 0, 0.3 / 0.65, 0]);
  });

  it("splits evenly between tied tokens", () => {
    const counts = histogram(
      new TokenSampler(params({ temperature: 1, seed: 4 })),
      Float32Array.from([3, 3, -50]),
      20_000,
    );
    expect(counts[2]).toBe(0);
    expectDistribution(counts, [0.5, 0.5, 0]);
  });

  it("picks its own seed when none is given, and reports it", () => {
    const sampler = new TokenSampler(params({ temperature: 0.8 }));
    expect(Number.isSafeInteger(sampler.seed)).toBe(true);
    const replay = new TokenSampler(params({ temperature: 0.8, seed: sampler.seed ?? -1 }));
    const logits = randomLogits(300, 9);
    for (let i = 0; i < 20; i++) expect(replay.next(logits, [])).toBe(sampler.next(logits, []));
  });
});

describe("samplingParamsSchema", () => {
  it("fills defaults (greedy)", () => {
    expect(GREEDY).toEqual({ temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 });
  });

  it("rejects out-of-range values, naming the field", () => {
    for (const bad of [{ temperature: -1 }, { topP: 1.5 }, { topK: 2.5 }, { repetitionPenalty: 0 }, { seed: -3 }]) {
      const parsed = samplingParamsSchema.safeParse(bad);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0].path).toEqual(Object.keys(bad));
    }
  });

  it("calls a run deterministic when it is greedy or seeded", () => {
    expect(isDeterministic(GREEDY)).toBe(true);
    expect(isDeterministic(params({ temperature: 0.7, seed: 1 }))).toBe(true);
    expect(isDeterministic(params({ temperature: 0.7 }))).toBe(false);
  });
});
