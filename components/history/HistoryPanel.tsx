"use client";

import { useStore } from "zustand";
import { chatStore } from "@/lib/client/stores/chatStore";
import { historyStore } from "@/lib/client/history/historyStore";
import { HistoryItem } from "./HistoryItem";

/**
 * The list of past chats with what the history has to say (off, or a failed action). In the phone drawer it has a
 * Close button, and opening a chat closes the drawer.
 */
export function HistoryPanel({ onClose }: { onClose?: () => void }) {
  const chats = useStore(historyStore, (state) => state.chats);
  const status = useStore(historyStore, (state) => state.status);
  const problem = useStore(historyStore, (state) => state.problem);
  const currentId = useStore(chatStore, (state) => state.chatId);

  return (
    <div className="flex min-h-0 flex-1 flex-col gap-2 p-3">
      <div className="flex items-center justify-between px-1">
        <h2 className="text-sm font-semibold text-slate-700">Chats</h2>
        {onClose && (
          <button
            type="button"
            onClick={onClose}
            className="rounded-md px-2 py-1 text-sm text-slate-600 hover:bg-slate-100"
          >
            Close
          </button>
        )}
      </div>
      {status.state === "off" && (
        <p data-testid="history-off" className="px-1 text-xs text-amber-800">
          Chats are not kept in this browser: {status.reason}
        </p>
      )}
      {problem !== null && (
        <div
          role="alert"
          data-testid="history-problem"
          className="rounded-md bg-amber-50 px-2 py-1.5 text-xs text-amber-900"
        >
          <p>{problem}</p>
          <button type="button" className="mt-1 underline" onClick={() => historyStore.getState().dismissProblem()}>
            Dismiss
          </button>
        </div>
      )}
      {status.state === "ready" && chats.length === 0 && (
        <p className="px-1 text-xs text-slate-500">Your chats will be listed here, kept in this browser.</p>
      )}
      <ul aria-label="Past chats" className="min-h-0 flex-1 space-y-1 overflow-y-auto">
        {chats.map((chat) => (
          <HistoryItem key={chat.id} chat={chat} current={chat.id === currentId} onOpened={onClose} />
        ))}
      </ul>
    </div>
  );
}
