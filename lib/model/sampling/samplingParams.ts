import { z } from "zod";
import type { Fault } from "@/lib/fault";
import { MAX_SEED } from "@/lib/model/sampling/prng";

/**
 * How the next token is chosen. temperature 0 means greedy (argmax after the repetition penalty); otherwise tokens are
 * drawn from the warped distribution with a seeded generator. topK 0 and topP 1 switch those filters off; a
 * repetitionPenalty of 1 switches the penalty off.
 */
export const samplingParamsSchema = z.object({
  temperature: z.number().min(0).max(100).default(0),
  topK: z.number().int().min(0).default(0),
  topP: z.number().min(0).max(1).default(1),
  repetitionPenalty: z.number().gt(0).max(100).default(1),
  seed: z.number().int().min(0).max(MAX_SEED).optional(),
});

export type SamplingParams = z.output<typeof samplingParamsSchema>;

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };

/** Sampling parameters a caller sent that cannot be used: the request's fault. */
export class SamplingParamsError extends Error {
  readonly fault: Fault = "request";
  readonly code = "invalid_sampling_params";
  constructor(message: string) {
    super(message);
    this.name = "SamplingParamsError";
  }
}

/** Validates user-supplied sampling parameters (missing fields take the defaults above). */
export function parseSamplingParams(input: unknown): SamplingParams {
  const parsed = samplingParamsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SamplingParamsError(`${issue.path.join(".") || "params"}: ${issue.message}`);
  }
  return parsed.data;
}

/** A run is reproducible — and its answer cacheable — when it is greedy or its random stream is seeded. */
export function isDeterministic(params: SamplingParams): boolean {
  return params.temperature === 0 || params.seed !== undefined;
}
