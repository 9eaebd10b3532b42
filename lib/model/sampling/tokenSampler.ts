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
 *
 * Top-p and the draw see only the tokens still in the running after top-k (with top-k on, a few of the vocabulary), in
 * token order. That is the same computation as over the whole vocabulary: both read scores in token order and give a
 * removed token (-Infinity) probability 0, which adds nothing to a sum, never ranks among the kept and is never drawn.
 */
export class TokenSampler {
  /** The seed actually used: the requested one, or a fresh random one when sampling without a seed. Null if greedy. */
  readonly seed: number | null;
  private readonly rng: Rng | null;
  private buffers: SamplerBuffers | null = null;

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
    if (this.buffers?.scores.length !== logits.length) this.buffers = samplerBuffers(logits.length);
    const { scores, keptScores, keptIds, probs } = this.buffers;
    scores.set(logits);
    applyRepetitionPenalty(scores, previousTokenIds, repetitionPenalty);
    if (this.rng === null) return argmax(scores);
    applyTemperature(scores, temperature);
    applyTopK(scores, topK);
    let n = 0;
    for (let id = 0; id < scores.length; id++) {
      if (scores[id] === -Infinity) continue;
      keptScores[n] = scores[id];
      keptIds[n++] = id;
    }
    const kept = keptScores.subarray(0, n);
    applyTopP(kept, topP, probs.subarray(0, n));
    return keptIds[drawFromLogits(kept, this.rng.nextFloat(), probs.subarray(0, n))];
  }
}

/** A sampler's [V] working arrays: the scores, the ones still in the running after top-k and their ids, softmax. */
interface SamplerBuffers {
  readonly scores: Float32Array;
  readonly keptScores: Float32Array;
  readonly keptIds: Int32Array;
  readonly probs: Float64Array;
}

function samplerBuffers(vocab: number): SamplerBuffers {
  return {
    scores: new Float32Array(vocab),
    keptScores: new Float32Array(vocab),
    keptIds: new Int32Array(vocab),
    probs: new Float64Array(vocab),
  };
}
