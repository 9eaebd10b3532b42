/**
 * Tracks whether the server answers GET /api/health, and how long to wait before asking again.
 *
 * While the server is up the page polls slowly; once a poll fails it retries with exponential backoff (1 s, 2 s,
 * 4 s … capped at 15 s) so a restarting server is found again within seconds without hammering it. A change of
 * `startedAt` between two successful polls means the process restarted (sessions held in its memory are gone).
 */
import type { HealthResponse } from "@/lib/api/types";

export type Connection =
  | { state: "connecting" }
  | { state: "up"; health: HealthResponse }
  | {
      state: "down";
      failures: number;
      downSince: number;
      reason: string;
      /** True when the server answered, but not with a usable health report (an error status or a drifted shape). */
      answered: boolean;
      lastHealth: HealthResponse | null;
    };

/** What the banner should say after a poll: the server came back, or came back as a new process. */
export type ConnectionNotice = "reconnected" | "restarted" | null;

export type HealthPoll = { ok: true; health: HealthResponse } | { ok: false; reason: string; answered: boolean };

export const UP_POLL_INTERVAL_MS = 10_000;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 15_000;

export function nextPollDelayMs(connection: Connection): number {
  if (connection.state !== "down") return connection.state === "up" ? UP_POLL_INTERVAL_MS : FIRST_RETRY_MS;
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (connection.failures - 1));
}

function lastKnownHealth(connection: Connection): HealthResponse | null {
  if (connection.state === "up") return connection.health;
  if (connection.state === "down") return connection.lastHealth;
  return null;
}

export function applyHealthPoll(
  connection: Connection,
  poll: HealthPoll,
  now: number,
): { connection: Connection; notice: ConnectionNotice } {
  const previous = lastKnownHealth(connection);
  if (poll.ok) {
    const restarted = previous !== null && previous.startedAt !== poll.health.startedAt;
    const notice: ConnectionNotice = restarted ? "restarted" : connection.state === "down" ? "reconnected" : null;
    return { connection: { state: "up", health: poll.health }, notice };
  }
  if (connection.state === "down") {
    return {
      connection: { ...connection, failures: connection.failures + 1, reason: poll.reason, answered: poll.answered },
      notice: null,
    };
  }
  return {
    connection: {
      state: "down",
      failures: 1,
      downSince: now,
      reason: poll.reason,
      answered: poll.answered,
      lastHealth: previous,
    },
    notice: null,
  };
}
