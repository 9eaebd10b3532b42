import { decodeStep, prefill, preparePrompt, type DecoderSessions } from "./decoderSteps";
import type { ExecutionProviderName } from "./executionProvider";
import { DecodeLoop } from "./decodeLoop";
import { emptyKvCache, type KvCache } from "./kvCache";

/**
 * How `auto` compares providers that all initialise: by the work a request does, timed on the bundle's own decoder —
 * a text prefill of PROBE_PROMPT_TOKENS tokens followed by PROBE_DECODE_STEPS greedy decode steps, once to warm up
 * (shader compilation, first allocations) and once timed. A GPU provider that is slower than the cores for this model
 * (one whose KV must cross host memory every step, say) loses here instead of being taken for being a GPU.
 */
export const PROBE_PROMPT_TOKENS = 256;
export const PROBE_DECODE_STEPS = 8;

/** Milliseconds of one short request (prefill + decode steps) on these sessions, after one untimed run. */
export async function timeShortRequest(s: DecoderSessions): Promise<number> {
  const ids = Array.from({ length: PROBE_PROMPT_TOKENS }, (_, i) => (i * 7919 + 13) % Math.min(s.config.text.vocabSize, 50000));
  const prompt = preparePrompt(s.config, ids, []);
  const stepper = { decodeStep: (token: number, past: KvCache, ropeDelta: number) => decodeStep(s, token, past, ropeDelta) };
  const once = async () => {
    const loop = new DecodeLoop(stepper, prompt.positions.ropeDelta, await prefill(s, prompt, [], emptyKvCache(s.config.text, s.floatType)));
    try {
      for (let i = 0; i < PROBE_DECODE_STEPS; i++) await loop.feed(ids[i]);
    } finally {
      loop.release();
    }
  };
  await once();
  const started = performance.now();
  await once();
  return performance.now() - started;
}

export interface ProviderTiming {
  readonly provider: ExecutionProviderName;
  readonly ms: number;
}

/** The fastest provider and the sentence the log gives as the reason. */
export function fastestProvider(timings: readonly ProviderTiming[]): { provider: ExecutionProviderName; why: string } {
  if (timings.length === 0) throw new RangeError("fastestProvider: no timings");
  const sorted = [...timings].sort((a, b) => a.ms - b.ms);
  const list = sorted.map((t) => `${t.provider} ${t.ms.toFixed(0)} ms`).join(", ");
  return {
    provider: sorted[0].provider,
    why: `fastest on a short request (${PROBE_PROMPT_TOKENS}-token prefill + ${PROBE_DECODE_STEPS} decode steps): ${list}`,
  };
}
