import { z } from "zod";
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

/** A run is reproducible — and its answer cacheable — when it is greedy or its random stream is seeded. */
export function isDeterministic(params: SamplingParams): boolean {
  return params.temperature === 0 || params.seed !== undefined;
}
