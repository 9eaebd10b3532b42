import type { CacheLevelSummary, MetricsSummary, TtftHistogram } from "@/lib/api/types";
import { CACHE_LEVELS, type CacheLevel } from "@/lib/api/types";
import { TTFT_BUCKETS_SECONDS } from "@/lib/metrics/cacheMetrics";
import { metricsRegistry } from "@/lib/metrics/registry";
import type { MetricValue, Registry } from "prom-client";

/**
 * GET /api/metrics/summary: the registry's cache metrics (cacheMetrics.ts, plus W1's queue gauge) folded into the
 * `MetricsSummary` JSON the /metrics page draws. A metric nobody has registered yet reads as zero, so the summary is
 * complete from the first request on, whatever has run.
 */
export interface SummaryOptions {
  /** When the server process started (Runtime.startedAt). */
  readonly startedAt: Date;
  readonly registry?: Registry;
  readonly now?: () => number;
}

/** Histograms report each series under its own name (`_bucket`, `_sum`, `_count`). */
type Values = readonly (MetricValue<string> & { readonly metricName?: string })[];

export async function buildMetricsSummary(options: SummaryOptions): Promise<MetricsSummary> {
  const registry = options.registry ?? metricsRegistry;
  const read = async (name: string): Promise<Values> => (await registry.getSingleMetric(name)?.get())?.values ?? [];
  const sum = (values: Values, labels: Record<string, string> = {}) =>
    values
      .filter((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))
      .reduce((total, v) => total + v.value, 0);

  const [requests, bytes, capacity, evictions, runs, saved, reused, ttft, queue] = await Promise.all([
    read("vlcache_cache_requests_total"),
    read("vlcache_cache_bytes"),
    read("vlcache_cache_capacity_bytes"),
    read("vlcache_cache_evictions_total"),
    read("vlcache_vision_encoder_runs_total"),
    read("vlcache_vision_encoder_runs_saved_total"),
    read("vlcache_prefix_tokens_reused_total"),
    read("vlcache_ttft_seconds"),
    read("vlcache_queue_length"),
  ]);

  const level = (name: CacheLevel): CacheLevelSummary => {
    const hasCapacity = capacity.some((v) => v.labels.level === name);
    return {
      hits: sum(requests, { level: name, result: "hit" }),
      misses: sum(requests, { level: name, result: "miss" }),
      bytes: sum(bytes, { level: name }),
      capacityBytes: hasCapacity ? sum(capacity, { level: name }) : null,
      evictions: sum(evictions, { level: name }),
    };
  };
  const levels = Object.fromEntries(CACHE_LEVELS.map((name) => [name, level(name)])) as Record<
    CacheLevel,
    CacheLevelSummary
  >;

  return {
    timestamp: (options.now ?? Date.now)(),
    startedAt: options.startedAt.getTime(),
    levels,
    visionEncoderRuns: sum(runs),
    visionEncoderRunsSaved: sum(saved),
    prefixTokensReused: sum(reused),
    ttft: ttftHistogram(ttft),
    queueLength: sum(queue),
  };
}

/** prom-client's cumulative `le` buckets → per-bucket counts, split by the `cache` label. */
function ttftHistogram(values: Values): TtftHistogram {
  const perBucket = (cache: "hit" | "miss") => {
    const cumulative = (le: string) =>
      values.find(
        (v) => v.metricName === "vlcache_ttft_seconds_bucket" && v.labels.cache === cache && String(v.labels.le) === le,
      )?.value ?? 0;
    const bounds = [...TTFT_BUCKETS_SECONDS.map(String), "+Inf"];
    const counts = bounds.map(cumulative);
    return counts.map((count, i) => count - (i === 0 ? 0 : counts[i - 1]));
  };
  return {
    upperBoundsMs: TTFT_BUCKETS_SECONDS.map((s) => Math.round(s * 1000 * 1000) / 1000),
    hit: perBucket("hit"),
    miss: perBucket("miss"),
  };
}
