"use client";

import { useEffect, useState } from "react";
import { useStore } from "zustand";
import { chatStore } from "@/lib/client/stores/chatStore";
import { healthStore, startHealthPolling } from "@/lib/client/stores/healthStore";
import type { Poller } from "@/lib/client/polling";

/** How long the "reconnected" / "restarted" message stays up. */
const NOTICE_MS = 6_000;

const RESTART_NOTICE = "The server restarted and no longer has this conversation: your next question starts a new one.";

/**
 * Watches the server (GET /api/health with backoff) and says so while it is down, and when it comes back. After a
 * restart the chat forgets its session, since the new process does not have it.
 */
export function ConnectionBanner() {
  const connection = useStore(healthStore, (state) => state.connection);
  const notice = useStore(healthStore, (state) => state.notice);
  const [poller, setPoller] = useState<Poller | null>(null);

  useEffect(() => {
    const started = startHealthPolling((kind) => {
      if (kind === "restarted" && chatStore.getState().sessionId !== null) chatStore.getState().forgetSession(RESTART_NOTICE);
    });
    setPoller(started);
    return () => started.stop();
  }, []);

  useEffect(() => {
    if (notice === null) return;
    const timer = setTimeout(() => healthStore.getState().dismissNotice(), NOTICE_MS);
    return () => clearTimeout(timer);
  }, [notice]);

  if (connection.state === "down") {
    return (
      <div role="alert" data-testid="connection-banner" data-state="down" className="flex flex-wrap items-center gap-3 bg-red-600 px-4 py-2 text-sm text-white">
        <span>
          <strong>{connection.answered ? "The server's health check failed." : "The server is not responding."}</strong> {connection.reason}{" "}
          Retrying (attempt {connection.failures})…
        </span>
        <button type="button" onClick={() => poller?.pollNow()} className="rounded border border-white/70 px-2 py-0.5 text-xs hover:bg-white/10">
          Retry now
        </button>
      </div>
    );
  }
  if (notice !== null) {
    return (
      <div role="status" data-testid="connection-banner" data-state={notice.kind} className="bg-emerald-600 px-4 py-2 text-sm text-white">
        {notice.kind === "restarted" ? "Reconnected: the server restarted." : "Reconnected to the server."}
      </div>
    );
  }
  return null;
}
