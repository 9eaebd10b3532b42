/**
 * How `auto` compares providers that all initialise: by the work a request does, timed on the bundle's own decoder —
 * a text prefill of PROBE_PROMPT_TOKENS tokens followed by PROBE_DECODE_STEPS greedy decode steps, once to warm up
 * (shader compilation, first allocations) and once timed. A GPU provider that is slower than the cores for this model
 * (one whose KV must cross host memory every step, say) loses here instead of being taken for being a GPU.
 */

import type * as ort from "onnxruntime-node";
import { decodeStep, prefill, preparePrompt, type DecoderSessions } from "./decoderSteps";
import {
  providerRecord,
  type ExecutionProviderChoice,
  type ExecutionProviderName,
  type ProviderCandidate,
  type ProviderFailure,
  type SessionFactory,
} from "./executionProvider";
import { DecodeLoop } from "./decodeLoop";
import { emptyKvCache, type KvCache } from "./kvCache";

export const PROBE_PROMPT_TOKENS = 256;
export const PROBE_DECODE_STEPS = 8;

/** Milliseconds of one short request (prefill + decode steps) on these sessions, after one untimed run. */
export async function timeShortRequest(s: DecoderSessions): Promise<number> {
  const ids = Array.from(
    { length: PROBE_PROMPT_TOKENS },
    (_, i) => (i * 7919 + 13) % Math.min(s.config.text.vocabSize, 50000),
  );
  const prompt = preparePrompt(s.config, ids, []);
  const stepper = {
    decodeStep: (token: number, past: KvCache, ropeDelta: number) => decodeStep(s, token, past, ropeDelta),
  };
  const once = async () => {
    const loop = new DecodeLoop(
      stepper,
      prompt.positions.ropeDelta,
      await prefill(s, prompt, [], emptyKvCache(s.config.text, s.floatType)),
    );
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

export interface ProviderChoice {
  readonly factory: SessionFactory;
  /** The chosen candidate's session: the bundle's decoder on that provider. */
  readonly decoder: ort.InferenceSession;
  readonly why: string;
  /** Providers that did not start, and those whose probe request failed. */
  readonly failures: readonly ProviderFailure[];
}

/**
 * Picks among the providers whose decoder opened (openCandidates): the only one, or the one asked for, as is;
 * otherwise the fastest on a short request, run on the sessions `sessions` makes of each candidate's decoder. Every
 * decoder it does not return is released, whatever happens.
 */
export async function chooseProvider(
  choice: ExecutionProviderChoice,
  candidates: readonly ProviderCandidate[],
  startFailures: readonly ProviderFailure[],
  sessions: (decoder: ort.InferenceSession) => DecoderSessions,
): Promise<ProviderChoice> {
  const failures = [...startFailures];
  let chosen = candidates[0];
  let why =
    choice === "auto"
      ? `the only provider that initialised (${providerRecord(chosen.factory.executionProvider).why})`
      : "asked for";
  let returned = false;
  try {
    if (candidates.length > 1) {
      const timings: ProviderTiming[] = [];
      for (const candidate of candidates) {
        const provider = candidate.factory.executionProvider;
        try {
          timings.push({ provider, ms: await timeShortRequest(sessions(candidate.session)) });
        } catch (error) {
          failures.push({
            provider,
            reason: `the probe request failed: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`,
          });
        }
      }
      if (timings.length > 0) {
        const fastest = fastestProvider(timings);
        chosen = candidates.find((c) => c.factory.executionProvider === fastest.provider) ?? chosen;
        why = fastest.why;
      }
    }
    const result = { factory: chosen.factory, decoder: chosen.session, why, failures };
    returned = true;
    return result;
  } finally {
    const unused = candidates.filter((c) => !(returned && c === chosen)).map((c) => c.session);
    await Promise.all(unused.map((session) => session.release()));
  }
}
