import { describe, expect, it } from "vitest";
import type { CacheLevel, CacheLevelSummary, MetricsSummary } from "@/lib/api/types";
import { appendSnapshot, encoderSavings, histogramQuantile, hitRatioSeries, ttftBuckets } from "./metricsHistory";

function level(hits: number, misses: number): CacheLevelSummary {
  return { hits, misses, bytes: 0, capacityBytes: null, evictions: 0 };
}

function snapshot(timestamp: number, counts: Record<CacheLevel, [number, number]>, startedAt = 1): MetricsSummary {
  return {
    timestamp,
    startedAt,
    levels: { l1: level(...counts.l1), l2: level(...counts.l2), l3: level(...counts.l3) },
    visionEncoderRuns: 0,
    visionEncoderRunsSaved: 0,
    prefixTokensReused: 0,
    ttft: { upperBoundsMs: [], hit: [0], miss: [0] },
    queueLength: 0,
  };
}

describe("appendSnapshot", () => {
  it("keeps the most recent snapshots up to the limit", () => {
    let history: MetricsSummary[] = [];
    for (let t = 1; t <= 5; t++)
      history = appendSnapshot(history, snapshot(t, { l1: [0, 0], l2: [0, 0], l3: [0, 0] }), 3);
    expect(history.map((s) => s.timestamp)).toEqual([3, 4, 5]);
  });

  it("starts over when the server process changed", () => {
    const before = [snapshot(1, { l1: [5, 5], l2: [0, 0], l3: [0, 0] }, 100)];
    const after = appendSnapshot(before, snapshot(2, { l1: [0, 1], l2: [0, 0], l3: [0, 0] }, 200));
    expect(after.map((s) => s.timestamp)).toEqual([2]);
  });
});

describe("hitRatioSeries", () => {
  const history = [
    snapshot(10, { l1: [1, 1], l2: [0, 0], l3: [0, 2] }),
    snapshot(20, { l1: [4, 1], l2: [0, 0], l3: [0, 2] }),
    snapshot(30, { l1: [4, 3], l2: [3, 1], l3: [1, 2] }),
  ];

  it("computes hits over lookups inside each window, reaching back to zero at the start", () => {
    expect(hitRatioSeries(history, 1)).toEqual([
      { timestamp: 10, ratio: { l1: 0.5, l2: null, l3: 0 } },
      { timestamp: 20, ratio: { l1: 1, l2: null, l3: null } },
      { timestamp: 30, ratio: { l1: 0, l2: 0.75, l3: 1 } },
    ]);
  });

  it("widens the window over several snapshots", () => {
    expect(hitRatioSeries(history, 2)[2]).toEqual({ timestamp: 30, ratio: { l1: 3 / 5, l2: 0.75, l3: 1 } });
  });
});

describe("encoderSavings", () => {
  it("gives the share of encodings saved, or null before any image", () => {
    const base = snapshot(1, { l1: [0, 0], l2: [0, 0], l3: [0, 0] });
    expect(encoderSavings({ ...base, visionEncoderRuns: 1, visionEncoderRunsSaved: 3 })).toEqual({
      runs: 1,
      saved: 3,
      savedShare: 0.75,
    });
    expect(encoderSavings(base)).toEqual({ runs: 0, saved: 0, savedShare: null });
  });
});

describe("ttftBuckets", () => {
  it("labels buckets by their upper bound and the overflow bucket by the last bound", () => {
    expect(ttftBuckets({ upperBoundsMs: [50, 500, 2000], hit: [4, 1, 0, 0], miss: [0, 2, 3, 1] })).toEqual([
      { label: "≤ 50 ms", hit: 4, miss: 0 },
      { label: "≤ 500 ms", hit: 1, miss: 2 },
      { label: "≤ 2.00 s", hit: 0, miss: 3 },
      { label: "> 2.00 s", hit: 0, miss: 1 },
    ]);
  });
});

describe("histogramQuantile", () => {
  it("interpolates inside the bucket holding the quantile", () => {
    // 10 observations: 4 in (0,100], 6 in (100,200]. The median (rank 5) is 1/6 into the second bucket.
    expect(histogramQuantile([100, 200], [4, 6, 0], 0.5)).toBeCloseTo(100 + 100 / 6, 9);
    expect(histogramQuantile([100, 200], [4, 6, 0], 0.2)).toBe(50);
  });

  it("returns the last bound when the quantile lies in the overflow bucket, null without observations", () => {
    expect(histogramQuantile([100, 200], [0, 1, 9], 0.5)).toBe(200);
    expect(histogramQuantile([100, 200], [0, 0, 0], 0.5)).toBeNull();
  });

  it("skips empty buckets before the quantile", () => {
    expect(histogramQuantile([100, 200, 400], [0, 0, 2, 0], 0.5)).toBe(300);
  });
});
