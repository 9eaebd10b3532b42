import type { TtftHistogram } from "@/lib/api/types";
import { formatDuration } from "@/lib/client/format";
import { histogramQuantile, ttftBuckets } from "@/lib/client/metricsHistory";
import { ChartCard, EmptyChart, Legend } from "./ChartCard";
import { GroupedBarChart } from "./GroupedBarChart";

const HIT_COLOR = "#059669";
const MISS_COLOR = "#94a3b8";

function median(bounds: number[], counts: number[]): string {
  const value = histogramQuantile(bounds, counts, 0.5);
  return value === null ? "–" : formatDuration(value);
}

/** Requests per time-to-first-token bucket, cache hits beside misses. */
export function TtftHistogramChart({ ttft }: { ttft: TtftHistogram }) {
  const buckets = ttftBuckets(ttft);
  const total = buckets.reduce((sum, b) => sum + b.hit + b.miss, 0);
  return (
    <ChartCard
      testId="chart-ttft"
      title="Time to first token"
      subtitle={`Median: hits ${median(ttft.upperBoundsMs, ttft.hit)}, misses ${median(ttft.upperBoundsMs, ttft.miss)} (estimated from buckets)`}
    >
      {total === 0 ? (
        <EmptyChart message="No answers yet." />
      ) : (
        <>
          <GroupedBarChart
            label="Requests per time-to-first-token bucket, hits and misses"
            groups={buckets.map((b) => ({ label: b.label, values: [b.hit, b.miss] }))}
            colors={[HIT_COLOR, MISS_COLOR]}
          />
          <Legend
            items={[
              { label: "cache hit (some level saved work)", color: HIT_COLOR },
              { label: "miss", color: MISS_COLOR },
            ]}
          />
        </>
      )}
    </ChartCard>
  );
}
