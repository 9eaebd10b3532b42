"use client";

import { useEffect, useState } from "react";
import { useStore } from "zustand";
import { historyStore } from "@/lib/client/history/historyStore";
import { HistoryDrawer } from "./HistoryDrawer";
import { HistoryPanel } from "./HistoryPanel";
import { UndoNewChatToast } from "./UndoNewChatToast";

/**
 * Past chats kept in this browser: a sidebar from the desktop breakpoint up, behind a "Chats" button below it; and
 * the undo offer after New chat. Mounting it starts saving the conversation and reopens the last one.
 */
export function ChatHistory() {
  const [drawerOpen, setDrawerOpen] = useState(false);
  const count = useStore(historyStore, (state) => state.chats.length);

  useEffect(() => historyStore.getState().connect(), []);

  return (
    <>
      <aside
        aria-label="Chat history"
        className="hidden w-64 shrink-0 flex-col border-r border-slate-200 bg-white lg:flex"
      >
        <HistoryPanel />
      </aside>
      <div className="px-4 pt-2 lg:hidden">
        <button
          type="button"
          aria-haspopup="dialog"
          aria-expanded={drawerOpen}
          onClick={() => setDrawerOpen(true)}
          className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm text-slate-700 hover:bg-slate-100"
        >
          Chats ({count})
        </button>
      </div>
      <HistoryDrawer open={drawerOpen} onClose={() => setDrawerOpen(false)} />
      <UndoNewChatToast />
    </>
  );
}
