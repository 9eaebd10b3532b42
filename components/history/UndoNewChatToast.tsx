"use client";

import { useEffect } from "react";
import { useStore } from "zustand";
import { historyStore } from "@/lib/client/history/historyStore";

/** How long Undo is offered after New chat. */
const UNDO_VISIBLE_MS = 8_000;

/**
 * After New chat: says where the previous conversation went, with Undo for a few seconds. Placed over the history
 * sidebar on desktops and above the question box on phones, clear of the Send button.
 */
export function UndoNewChatToast() {
  const undo = useStore(historyStore, (state) => state.undo);

  useEffect(() => {
    if (undo === null) return;
    const timer = setTimeout(() => historyStore.getState().dismissUndo(), UNDO_VISIBLE_MS);
    return () => clearTimeout(timer);
  }, [undo]);

  if (undo === null) return null;
  return (
    <div
      role="status"
      data-testid="undo-new-chat"
      className="fixed bottom-24 left-1/2 z-50 flex w-max max-w-[calc(100vw-2rem)] -translate-x-1/2 items-center lg:bottom-4 lg:left-4 lg:max-w-md lg:translate-x-0 gap-3 rounded-lg bg-slate-900 px-4 py-2.5 text-sm text-white shadow-lg"
    >
      <span className="min-w-0 truncate">New chat started. “{undo.title}” is kept in your chats.</span>
      <button
        type="button"
        onClick={() => historyStore.getState().undoNewChat()}
        className="font-semibold text-sky-300 underline"
      >
        Undo
      </button>
    </div>
  );
}
