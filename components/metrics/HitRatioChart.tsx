import { CACHE_LEVELS, type MetricsSummary } from "@/lib/api/types";
import { formatPercent } from "@/lib/client/format";
import { hitRatioSeries } from "@/lib/client/metricsHistory";
import { ChartCard, EmptyChart, Legend } from "./ChartCard";
import { LineChart } from "./LineChart";
import { LEVEL_STYLE } from "./levelStyle";

/** Snapshots per window: 15 polls of 2 s, i.e. the hit ratio over the last 30 seconds. */
const WINDOW_SNAPSHOTS = 15;

function clockTime(ms: number): string {
  return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}

export function HitRatioChart({ history }: { history: MetricsSummary[] }) {
  const points = hitRatioSeries(history, WINDOW_SNAPSHOTS);
  const hasData = points.some((p) => CACHE_LEVELS.some((level) => p.ratio[level] !== null));
  return (
    <ChartCard
      testId="chart-hit-ratio"
      title="Hit ratio per cache level"
      subtitle="Hits over lookups in the last 30 s; gaps where a level saw no lookups"
    >
      {hasData ? (
        <>
          <LineChart
            label="Hit ratio per cache level over time"
            yDomain={[0, 1]}
            formatY={formatPercent}
            formatX={clockTime}
            series={CACHE_LEVELS.map((level) => ({
              name: level,
              color: LEVEL_STYLE[level].color,
              points: points.map((p) => ({ x: p.timestamp, y: p.ratio[level] })),
            }))}
          />
          <Legend
            items={CACHE_LEVELS.map((level) => ({ label: LEVEL_STYLE[level].name, color: LEVEL_STYLE[level].color }))}
          />
        </>
      ) : (
        <EmptyChart message="No cache lookups yet: ask a question on the chat page." />
      )}
    </ChartCard>
  );
}
