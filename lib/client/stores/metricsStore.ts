/** Recent snapshots of GET /api/metrics/summary for the /metrics page, polled every two seconds while it is open. */
import { createStore } from "zustand/vanilla";
import type { MetricsSummary } from "@/lib/api/types";
import { fetchMetricsSummary } from "../apiResponses";
import { appendSnapshot } from "../metricsHistory";
import { startPolling, type Poller } from "../polling";
import { recheckHealth } from "./healthStore";

export interface MetricsState {
  history: MetricsSummary[];
  /** Why the last poll failed, cleared by the next success. */
  error: string | null;
}

export const metricsStore = createStore<MetricsState>()(() => ({ history: [], error: null }));

export const METRICS_POLL_MS = 2_000;

export function startMetricsPolling(): Poller {
  return startPolling(async (signal) => {
    try {
      const snapshot = await fetchMetricsSummary(signal);
      metricsStore.setState((state) => ({ history: appendSnapshot(state.history, snapshot), error: null }));
    } catch (error) {
      if (signal.aborted) return null;
      metricsStore.setState({ error: error instanceof Error ? error.message : String(error) });
      recheckHealth();
    }
    return METRICS_POLL_MS;
  });
}
