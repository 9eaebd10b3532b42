"use client";

import { useEffect } from "react";
import { useStore } from "zustand";
import { serverProblem } from "@/lib/client/serverProblem";
import { chatStore } from "@/lib/client/stores/chatStore";
import { healthStore, recheckHealth, startHealthPolling } from "@/lib/client/stores/healthStore";

/** How long the "reconnected" / "restarted" message stays up. */
const NOTICE_MS = 6_000;

const RESTART_NOTICE = "The server restarted and no longer has this conversation: your next question starts a new one.";

/**
 * Watches the server (GET /api/health with backoff, and at once after any failed request) and shows a banner whenever
 * its health is not `ok`: in plain words, the server's own wording folded under "Details". Says so too when it comes
 * back; after a restart the chat forgets its session, since the new process does not have it.
 */
export function ConnectionBanner() {
  const connection = useStore(healthStore, (state) => state.connection);
  const notice = useStore(healthStore, (state) => state.notice);

  useEffect(() => {
    const poller = startHealthPolling((kind) => {
      if (kind === "restarted" && chatStore.getState().sessionId !== null)
        chatStore.getState().forgetSession(RESTART_NOTICE);
    });
    return () => poller.stop();
  }, []);

  useEffect(() => {
    if (notice === null) return;
    const timer = setTimeout(() => healthStore.getState().dismissNotice(), NOTICE_MS);
    return () => clearTimeout(timer);
  }, [notice]);

  const problem = serverProblem(connection);
  if (problem !== null) {
    const severe = problem.blocksSending !== null;
    return (
      <div
        role="alert"
        data-testid="connection-banner"
        data-state={problem.kind}
        className={`flex flex-wrap items-start gap-x-3 gap-y-1 px-4 py-2 text-sm ${severe ? "bg-red-700 text-white" : "bg-amber-100 text-amber-900"}`}
      >
        <p className="min-w-0 flex-1">
          <strong>{problem.headline}</strong>
          {connection.state === "down" && ` Retrying (attempt ${connection.failures})…`}
        </p>
        {connection.state === "down" && (
          <button
            type="button"
            onClick={recheckHealth}
            className="rounded border border-current px-2 py-0.5 text-xs hover:opacity-80"
          >
            Retry now
          </button>
        )}
        {problem.detail !== null && (
          <details className="w-full text-xs">
            <summary className="cursor-pointer select-none">Details</summary>
            <code className="mt-1 block font-mono break-all whitespace-pre-wrap">{problem.detail}</code>
          </details>
        )}
      </div>
    );
  }
  if (notice !== null) {
    return (
      <div
        role="status"
        data-testid="connection-banner"
        data-state={notice.kind}
        className="bg-emerald-700 px-4 py-2 text-sm text-white"
      >
        {notice.kind === "restarted" ? "Reconnected: the server restarted." : "Reconnected to the server."}
      </div>
    );
  }
  return null;
}
