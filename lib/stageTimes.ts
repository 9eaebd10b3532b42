/**
 * Where one request's time goes, stage by stage: code on the request path wraps each stage in `timeStage`, and a
 * benchmark opens a recording around one request to see them (scripts/gpu/bench-vs-hf.ts and scripts/bench-host.ts
 * report the cold request's). Without an open recording nothing is kept and a stage costs one comparison. The engine
 * serves one generation at a time, so a recording opened around one request holds that request's stages; the benchmark
 * keeps the process otherwise quiet meanwhile.
 *
 * The stages do not nest: each is host work or one session run, so their sum before the first token, set against the
 * time to first token, says how much time no stage accounts for.
 */

export const STAGES = [
  /** Tokenising the conversation, image sizes, the prompt's length check (planGeneration). */
  "plan",
  /** The stored image's PNG → RGB pixels. */
  "image_decode",
  /** Smart resize, normalisation and (on the host path) patchify of one image: the model's preprocessing. */
  "preprocess",
  /** The device path's patchify graph: the normalised image's upload, cut into patches on the device. */
  "patchify_device",
  /** The vision encoder's run: pixel upload, the encoder, and its outputs' download where they come to the host. */
  "vision",
  /** Reading the encoder's outputs into per-image host arrays (a download run where they stay on the device). */
  "vision_outputs",
  /** L1 keeping fresh features: the record's encode and check, process memory, the store's write. */
  "l1_write",
  /**
   * embed_tokens of the prefill's tokens, on the CPU; with image features on the device, only of the tokens whose rows
   * go up (the device images' rows replace the others).
   */
  "embed",
  /** Image rows and DeepStack rows into the decoder's inputs: on the host, or a small graph on the device. */
  "prefill_inputs",
  /** The decoder's prefill run (input upload included). */
  "prefill_run",
] as const;

export type StageName = (typeof STAGES)[number];

export interface StageTime {
  readonly stage: StageName;
  /** performance.now() at the stage's start. */
  readonly startMs: number;
  readonly ms: number;
}

let recording: StageTime[] | null = null;

/** Starts recording stages (replacing any recording open); `stop` ends it and returns the stages in order of end. */
export function recordStages(): { stop(): StageTime[] } {
  const stages: StageTime[] = [];
  recording = stages;
  return {
    stop: () => {
      if (recording === stages) recording = null;
      return stages;
    },
  };
}

export async function timeStage<T>(stage: StageName, work: () => Promise<T>): Promise<T> {
  const into = recording;
  if (into === null) return work();
  const startMs = performance.now();
  try {
    return await work();
  } finally {
    into.push({ stage, startMs, ms: performance.now() - startMs });
  }
}
