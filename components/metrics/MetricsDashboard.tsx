"use client";

import { useEffect } from "react";
import { useStore } from "zustand";
import { formatCount, formatPercent } from "@/lib/client/format";
import { encoderSavings } from "@/lib/client/metricsHistory";
import { metricsStore, startMetricsPolling } from "@/lib/client/stores/metricsStore";
import { HitRatioChart } from "./HitRatioChart";
import { MemoryPerLevelChart } from "./MemoryPerLevelChart";
import { StatCard } from "./StatCard";
import { TtftHistogramChart } from "./TtftHistogramChart";

/** The /metrics page's body: GET /api/metrics/summary every two seconds, drawn as headline numbers and charts. */
export function MetricsDashboard() {
  const history = useStore(metricsStore, (state) => state.history);
  const error = useStore(metricsStore, (state) => state.error);

  useEffect(() => {
    const poller = startMetricsPolling();
    return () => poller.stop();
  }, []);

  const latest = history.at(-1);
  const savings = latest === undefined ? null : encoderSavings(latest);
  return (
    <div className="space-y-4">
      {error !== null && (
        <p
          role="alert"
          data-testid="metrics-error"
          className="rounded-lg border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800"
        >
          Metrics are unavailable: {error}
          {latest !== undefined && " Showing the last values received."}
        </p>
      )}
      {latest === undefined || savings === null ? (
        error === null && <p className="text-sm text-slate-500">Loading metrics…</p>
      ) : (
        <>
          <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
            <StatCard
              testId="stat-encoder-saved"
              label="Vision-encoder runs saved"
              value={formatCount(savings.saved)}
              note={`${formatCount(savings.runs)} runs done${savings.savedShare === null ? "" : ` · ${formatPercent(savings.savedShare)} of encodings saved`}`}
            />
            <StatCard
              testId="stat-prefix-tokens"
              label="Prefix tokens reused"
              value={formatCount(latest.prefixTokensReused)}
              note="KV served from the L2 prefix cache"
            />
            <StatCard
              testId="stat-l3-hits"
              label="Answers from the response cache"
              value={formatCount(latest.levels.l3.hits)}
              note={`${formatCount(latest.levels.l3.misses)} generated`}
            />
            <StatCard
              testId="stat-queue"
              label="Queue length"
              value={formatCount(latest.queueLength)}
              note="requests waiting for the engine"
            />
          </div>
          <div className="grid gap-4 lg:grid-cols-2">
            <HitRatioChart history={history} />
            <TtftHistogramChart ttft={latest.ttft} />
            <MemoryPerLevelChart levels={latest.levels} />
          </div>
        </>
      )}
    </div>
  );
}
