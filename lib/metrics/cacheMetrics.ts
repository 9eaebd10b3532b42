/**
 * The cache levels' metrics, all in the process's one registry (registry.ts). The ▶ names of the architecture contract
 * are the first six; the rest add what the summary and operators need on top (saved encoder runs, capacities, store
 * fall-backs, dropped entries, the L2 store tier's traffic).
 *
 * `bytes` and `capacity` gauges describe the in-process layer of each level (L1's LRU in front of Redis, L2's prefix
 * tree, L3's in-process layer): what this process holds, not what Redis holds.
 */

import type { CacheLevel, FeatureSource } from "@/lib/api/types";
import { counter, gauge, histogram } from "@/lib/metrics/registry";

export type CacheResult = "hit" | "miss";

export const visionEncoderRuns = counter({
  name: "vlcache_vision_encoder_runs_total",
  help: "Vision encoder runs (one per image encoded, for a request or an upload precompute).",
});

export const visionEncoderRunsSaved = counter({
  name: "vlcache_vision_encoder_runs_saved_total",
  help: "Images of requests whose features came from L1 or an upload precompute instead of a run for the request.",
});

export const cacheRequests = counter<"level" | "result">({
  name: "vlcache_cache_requests_total",
  help: "Cache look-ups by level (l1 features, l2 prefix KV, l3 responses) and result (hit, miss).",
  labelNames: ["level", "result"],
});

export const cacheBytes = gauge<"level">({
  name: "vlcache_cache_bytes",
  help: "Bytes held by each cache level's in-process layer.",
  labelNames: ["level"],
});

export const cacheCapacityBytes = gauge<"level">({
  name: "vlcache_cache_capacity_bytes",
  help: "Byte budget of each cache level's in-process layer.",
  labelNames: ["level"],
});

export const cacheEvictions = counter<"level">({
  name: "vlcache_cache_evictions_total",
  help: "Entries evicted from a cache level's in-process layer (budget or idle time).",
  labelNames: ["level"],
});

export const prefixTokensReused = counter({
  name: "vlcache_prefix_tokens_reused_total",
  help: "Prompt tokens whose KV came from L2 (its in-process prefix tree or its store tier) instead of prefill.",
});

/** Upper bounds in seconds; the summary reports them in milliseconds. */
export const TTFT_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const ttftSeconds = histogram<"cache">({
  name: "vlcache_ttft_seconds",
  help: "Time to first token; cache=hit when any level saved work for the request (L3 answer, L2 reuse, cached features).",
  labelNames: ["cache"],
  buckets: TTFT_BUCKETS_SECONDS,
});

export const storeFallbacks = counter<"level">({
  name: "vlcache_cache_store_fallbacks_total",
  help: "L1/L3 operations served by the in-process layer alone because the shared store (Redis) was unreachable.",
  labelNames: ["level"],
});

export const droppedEntries = counter<"level" | "reason">({
  name: "vlcache_cache_dropped_entries_total",
  help: "Stored entries that failed their checks (corrupt, wrong shape, wrong version) and were deleted, never used.",
  labelNames: ["level", "reason"],
});

export const l2StoreBytes = counter<"direction">({
  name: "vlcache_l2_store_bytes_total",
  help: "Bytes of KV blocks the L2 store tier read from or wrote to the shared store (direction=read|write).",
  labelNames: ["direction"],
});

export const l2StoreWriteProblems = counter<"problem">({
  name: "vlcache_l2_store_write_problems_total",
  help: "Turns whose KV blocks the L2 store tier did not write: the store failed, or the bounded queue dropped them.",
  labelNames: ["problem"],
});

export function countLookup(level: CacheLevel, result: CacheResult): void {
  cacheRequests.inc({ level, result });
}

/** What became of one distinct image of a request at the features seam (lib/inference/modelCaches.ts reports it). */
export interface FeatureLookupEvent {
  /** False when the reused KV prefix covers the image: prefill does not read its features. */
  readonly required: boolean;
  /** Whether L1 was consulted (the request's `l1` switch). */
  readonly l1: boolean;
  /** Where the features came from; null when none were served (not required and not cached). */
  readonly source: FeatureSource | null;
}

/**
 * The one place that counts L1 look-ups and saved vision-encoder runs, per distinct image of a request: an image the
 * reused prefix covers saved a run whatever L1 had; a required image saved one when its features were not computed
 * for this request. A consulted L1 counts a hit when it served features and a miss when they had to be computed.
 */
export function recordFeatureLookup(event: FeatureLookupEvent): void {
  if (!event.required || event.source !== "computed") visionEncoderRunsSaved.inc();
  if (!event.l1 || event.source === null) return;
  countLookup("l1", event.source === "computed" ? "miss" : "hit");
}

/** Records a finished request's time to first token. */
export function observeTtft(seconds: number, cacheHelped: boolean): void {
  ttftSeconds.observe({ cache: cacheHelped ? "hit" : "miss" }, seconds);
}
