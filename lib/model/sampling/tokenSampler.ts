import { randomInt } from "node:crypto";
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  drawFromLogits,
} from "@/lib/model/sampling/logitsWarpers";
import { createRng, type Rng } from "@/lib/model/sampling/prng";
import type { SamplingParams } from "@/lib/model/sampling/samplingParams";

/**
 * Chooses tokens for one generation. Lifecycle: one sampler per request; `next` is called once per decode step, in
 * order, so a seeded sampler consumes its random stream identically on every run (one uniform per sampled step).
 * The caller's logits are never modified: a step that changes scores works on the sampler's own copy.
 *
 * The copy and the probabilities are [V] buffers the sampler keeps from step to step: allocating them anew (0.6 and
 * 1.2 MB for Qwen3-VL's 151,936 logits) took several milliseconds a token, more than the warpers' arithmetic.
 */
export class TokenSampler {
  /** The seed actually used: the requested one, or a fresh random one when sampling without a seed. Null if greedy. */
  readonly seed: number | null;
  private readonly rng: Rng | null;
  private scores: Float32Array | null = null;
  private probs: Float64Array | null = null;

  constructor(readonly params: SamplingParams) {
    if (params.temperature === 0) {
      this.seed = null;
      this.rng = null;
    } else {
      this.seed = params.seed ?? randomInt(0, 2 ** 47);
      this.rng = createRng(this.seed);
    }
  }

  /** logits: [V] for the position being generated; previousTokenIds: the whole sequence so far (prompt + generated),
   *  which the repetition penalty needs. */
  next(logits: Float32Array, previousTokenIds: Iterable<number>): number {
    const { temperature, topK, topP, repetitionPenalty } = this.params;
    if (this.rng === null && repetitionPenalty === 1) return argmax(logits);
    const scores = this.copyOf(logits);
    applyRepetitionPenalty(scores, previousTokenIds, repetitionPenalty);
    if (this.rng === null) return argmax(scores);
    applyTemperature(scores, temperature);
    applyTopK(scores, topK);
    if (this.probs?.length !== scores.length) this.probs = new Float64Array(scores.length);
    applyTopP(scores, topP, this.probs);
    return drawFromLogits(scores, this.rng.nextFloat(), this.probs);
  }

  /** `logits` copied into the sampler's scores buffer. */
  private copyOf(logits: Float32Array): Float32Array {
    if (this.scores?.length !== logits.length) this.scores = new Float32Array(logits.length);
    this.scores.set(logits);
    return this.scores;
  }
}
