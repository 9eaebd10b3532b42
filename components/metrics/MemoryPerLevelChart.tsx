import { CACHE_LEVELS, type CacheLevel, type CacheLevelSummary } from "@/lib/api/types";
import { formatBytes, formatCount } from "@/lib/client/format";
import { ChartCard } from "./ChartCard";
import { LEVEL_STYLE } from "./levelStyle";

/**
 * Bytes held per level, as bars. A level with a budget is drawn against it; levels without one are drawn against the
 * largest level, so the bars still compare.
 */
export function MemoryPerLevelChart({ levels }: { levels: Record<CacheLevel, CacheLevelSummary> }) {
  const largest = Math.max(1, ...CACHE_LEVELS.map((level) => levels[level].bytes));
  return (
    <ChartCard
      testId="chart-memory"
      title="Memory per cache level"
      subtitle="Bytes held now, against the level's budget where it has one"
    >
      <ul className="space-y-3">
        {CACHE_LEVELS.map((level) => {
          const { bytes, capacityBytes, evictions } = levels[level];
          const scale = capacityBytes ?? largest;
          const share = scale > 0 ? Math.min(1, bytes / scale) : 0;
          return (
            <li key={level} data-testid={`memory-${level}`}>
              <div className="flex justify-between text-xs text-slate-600">
                <span>{LEVEL_STYLE[level].name}</span>
                <span className="tabular-nums">
                  {formatBytes(bytes)}
                  {capacityBytes !== null && ` of ${formatBytes(capacityBytes)}`} · {formatCount(evictions)} evicted
                </span>
              </div>
              <div
                className="mt-1 h-3 overflow-hidden rounded bg-slate-100"
                role="meter"
                aria-label={`${LEVEL_STYLE[level].name} memory`}
                aria-valuemin={0}
                aria-valuemax={scale}
                aria-valuenow={bytes}
              >
                <div
                  className="h-full rounded"
                  style={{ width: `${share * 100}%`, background: LEVEL_STYLE[level].color }}
                />
              </div>
            </li>
          );
        })}
      </ul>
    </ChartCard>
  );
}
