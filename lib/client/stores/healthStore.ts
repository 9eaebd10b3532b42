/**
 * Whether the server is reachable, and what it runs (model, execution provider, store), from GET /api/health polled
 * in the background with backoff while it is down.
 */
import { createStore } from "zustand/vanilla";
import { ApiError, isAbortError } from "../apiError";
import { fetchHealth } from "../apiResponses";
import {
  applyHealthPoll,
  nextPollDelayMs,
  type Connection,
  type ConnectionNotice,
  type HealthPoll,
} from "../healthConnection";
import { startPolling, type Poller } from "../polling";

export interface HealthState {
  connection: Connection;
  /** The latest reconnect/restart notice and when it came, for the banner to show briefly. */
  notice: { kind: Exclude<ConnectionNotice, null>; at: number } | null;
  dismissNotice(): void;
}

export const healthStore = createStore<HealthState>()((set) => ({
  connection: { state: "connecting" },
  notice: null,
  dismissNotice: () => set({ notice: null }),
}));

const HEALTH_TIMEOUT_MS = 5_000;

/** The running poll loop, so any failed request elsewhere on the page can ask for a health check at once. */
let activePoller: Poller | null = null;

/**
 * Checks the server's health now instead of at the next scheduled poll. Called after any failed request: a dead server
 * is then reported within one request's failure, not up to UP_POLL_INTERVAL_MS later.
 */
export function recheckHealth(): void {
  activePoller?.pollNow();
}

/**
 * Polls until the returned poller is stopped. `onNotice` hears about reconnects and restarts (e.g. so the chat can
 * forget a session the restarted server no longer has).
 */
export function startHealthPolling(onNotice: (notice: Exclude<ConnectionNotice, null>) => void): Poller {
  const poller = startPolling(async (signal) => {
    const timeout = AbortSignal.timeout(HEALTH_TIMEOUT_MS);
    let poll: HealthPoll;
    try {
      poll = { ok: true, health: await fetchHealth(AbortSignal.any([signal, timeout])) };
    } catch (error) {
      if (signal.aborted) return null;
      const reason =
        timeout.aborted && isAbortError(error)
          ? `No answer within ${HEALTH_TIMEOUT_MS / 1000} s.`
          : error instanceof Error
            ? error.message
            : String(error);
      poll = { ok: false, reason, answered: error instanceof ApiError && error.status !== null };
    }
    const { connection, notice } = applyHealthPoll(healthStore.getState().connection, poll, Date.now());
    healthStore.setState(notice === null ? { connection } : { connection, notice: { kind: notice, at: Date.now() } });
    if (notice !== null) onNotice(notice);
    return nextPollDelayMs(connection);
  });
  activePoller = poller;
  return {
    stop() {
      poller.stop();
      if (activePoller === poller) activePoller = null;
    },
    pollNow: () => poller.pollNow(),
  };
}
