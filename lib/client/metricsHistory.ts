/**
 * Turns the snapshots of GET /api/metrics/summary that the /metrics page collects into the series its charts draw.
 *
 * The server reports counters since its process started; the page polls and keeps the recent snapshots. Invariant:
 * every snapshot in a history comes from the same server process (same `startedAt`), so differences between two
 * snapshots are real counts — a restart resets the counters and therefore starts a new history.
 */
import { CACHE_LEVELS, type CacheLevel, type MetricsSummary, type TtftHistogram } from "@/lib/api/types";
import { formatDuration } from "./format";

/** About six minutes of history at the page's two-second polling. */
export const HISTORY_LIMIT = 180;

export function appendSnapshot(
  history: MetricsSummary[],
  snapshot: MetricsSummary,
  limit = HISTORY_LIMIT,
): MetricsSummary[] {
  const last = history.at(-1);
  if (last !== undefined && last.startedAt !== snapshot.startedAt) return [snapshot];
  const next = [...history, snapshot];
  return next.length > limit ? next.slice(next.length - limit) : next;
}

export interface HitRatioPoint {
  timestamp: number;
  /** Hits over lookups during the window ending at this snapshot; null when the level saw no lookups then. */
  ratio: Record<CacheLevel, number | null>;
}

/**
 * Hit ratio per level over a sliding window of `windowSnapshots` polls. Near the start of the history the window
 * reaches back to the process start (where every counter was zero), so the first point already shows a ratio.
 */
export function hitRatioSeries(history: MetricsSummary[], windowSnapshots: number): HitRatioPoint[] {
  return history.map((snapshot, i) => {
    const from = i - windowSnapshots >= 0 ? history[i - windowSnapshots] : null;
    const ratio = Object.fromEntries(
      CACHE_LEVELS.map((level) => {
        const hits = snapshot.levels[level].hits - (from?.levels[level].hits ?? 0);
        const misses = snapshot.levels[level].misses - (from?.levels[level].misses ?? 0);
        return [level, hits + misses > 0 ? hits / (hits + misses) : null];
      }),
    ) as Record<CacheLevel, number | null>;
    return { timestamp: snapshot.timestamp, ratio };
  });
}

export interface EncoderSavings {
  runs: number;
  saved: number;
  /** saved / (runs + saved): the share of image encodings a cache made unnecessary; null before any image. */
  savedShare: number | null;
}

export function encoderSavings(summary: MetricsSummary): EncoderSavings {
  const total = summary.visionEncoderRuns + summary.visionEncoderRunsSaved;
  return {
    runs: summary.visionEncoderRuns,
    saved: summary.visionEncoderRunsSaved,
    savedShare: total > 0 ? summary.visionEncoderRunsSaved / total : null,
  };
}

export interface TtftBucket {
  label: string;
  hit: number;
  miss: number;
}

/**
 * One bar group per histogram bucket, labelled by its upper bound ("≤ 50 ms"); the overflow bucket reads "> 2.00 s".
 */
export function ttftBuckets(histogram: TtftHistogram): TtftBucket[] {
  const bounds = histogram.upperBoundsMs;
  return histogram.hit.map((hit, i) => ({
    label: i < bounds.length ? `≤ ${formatDuration(bounds[i])}` : `> ${formatDuration(bounds[bounds.length - 1])}`,
    hit,
    miss: histogram.miss[i] ?? 0,
  }));
}

/**
 * Estimates a quantile from per-bucket counts the way Prometheus' histogram_quantile does: find the bucket holding
 * the q-th observation and interpolate linearly inside it (the first bucket starts at 0). Returns null without
 * observations, and the last finite bound when the quantile falls in the overflow bucket.
 */
export function histogramQuantile(upperBoundsMs: number[], counts: number[], q: number): number | null {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0 || upperBoundsMs.length === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    if (below + counts[i] >= rank && counts[i] > 0) {
      if (i >= upperBoundsMs.length) return upperBoundsMs[upperBoundsMs.length - 1];
      const lower = i === 0 ? 0 : upperBoundsMs[i - 1];
      return lower + (upperBoundsMs[i] - lower) * ((rank - below) / counts[i]);
    }
    below += counts[i];
  }
  return upperBoundsMs[upperBoundsMs.length - 1];
}
