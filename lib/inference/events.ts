/**
 * What `generate` streams, in this order:
 *
 *   accepted → meta → token* → done
 *
 * `accepted` comes as soon as every check that can refuse the request has passed (validation, images, prompt length,
 * queue admission); a consumer may open its response stream then, since everything after it is an answer, not a
 * refusal. `meta` follows once the request holds the engine and the caches have been consulted (the shape of the
 * HTTP API's SSE `meta`, minus the sessionId the HTTP layer adds). `token` carries text, never part of a multi-byte
 * character and never text at or past a stop string; concatenated they are the answer. `done` always ends a stream
 * that was accepted — also a cancelled one, which skips `meta` when it was cancelled while queued or while its
 * image features were being computed.
 */

import type { ChatMetaEvent, FeatureSource, PrefixTier, ResponseCacheResult } from "@/lib/api/types";

export type GenerationEvent = AcceptedEvent | MetaEvent | TokenEvent | DoneEvent;

export interface AcceptedEvent {
  readonly type: "accepted";
  /**
   * Requests ahead of this one in the engine's queue when it was admitted (0 for an L3 answer, which needs no slot).
   */
  readonly queuedBehind: number;
}

export type { FeatureSource, PrefixTier, ResponseCacheResult };

/** What each cache level contributed: the `cache` object of the HTTP API's SSE `meta` event. Its `features` list has
 *  one entry per distinct image, in prompt order, and is empty for an L3 hit (which needs no features). */
export type CacheReport = ChatMetaEvent["cache"];

export interface MetaEvent {
  readonly type: "meta";
  readonly cache: CacheReport;
}

export interface TokenEvent {
  readonly type: "token";
  readonly text: string;
}

/** `stop`: an EOS token or a stop string; `length`: maxNewTokens or the context limit; `cancelled`: the signal. */
export type FinishReason = "stop" | "length" | "cancelled";

export interface GenerationTimings {
  /** Waiting for an engine slot. */
  readonly queueMs: number;
  /** Image preprocessing (resize, normalise, patchify) of the images whose features were computed. */
  readonly preprocessMs: number;
  /** Vision encoder runs. */
  readonly visionMs: number;
  /** The prefill run over the prompt tokens not covered by a reused prefix. */
  readonly prefillMs: number;
  /** Request start → first generated token (null when none was generated). */
  readonly ttftMs: number | null;
  readonly totalMs: number;
  /** Generated tokens after the first, per second of decoding (0 with fewer than two tokens). */
  readonly decodeTokensPerSecond: number;
}

export interface DoneEvent {
  readonly type: "done";
  readonly finishReason: FinishReason;
  readonly usage: { readonly promptTokens: number; readonly completionTokens: number };
  readonly timings: GenerationTimings;
  /** Every generated token id, the stopping EOS token included. */
  readonly tokenIds: readonly number[];
  /** The sampler's seed (the requested one, or the random one it chose); null for greedy decoding. */
  readonly seed: number | null;
}
