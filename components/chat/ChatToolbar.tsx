"use client";

import { useStore } from "zustand";
import { REGENERATE_TEMPERATURE } from "@/lib/client/generationSettings";
import { chatStore, isStreaming } from "@/lib/client/stores/chatStore";

const REGENERATE_TITLE =
  `Ask the last question again for a new sample: the response cache is skipped and a fresh seed is used ` +
  `(greedy settings sample at temperature ${REGENERATE_TEMPERATURE})`;

/** New chat and Regenerate, plus the conversation's notice (e.g. after a server restart). */
export function ChatToolbar() {
  const streaming = useStore(chatStore, isStreaming);
  const hasTurns = useStore(chatStore, (state) => state.turns.length > 0);
  const notice = useStore(chatStore, (state) => state.notice);
  const button =
    "rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm text-slate-700 hover:bg-slate-100 disabled:cursor-not-allowed disabled:opacity-50";
  return (
    <div className="flex flex-wrap items-center gap-2">
      <button type="button" className={button} onClick={() => chatStore.getState().newChat()}>
        New chat
      </button>
      <button
        type="button"
        className={button}
        disabled={!hasTurns || streaming}
        title={REGENERATE_TITLE}
        onClick={() => chatStore.getState().regenerate()}
      >
        Regenerate
      </button>
      {notice !== null && (
        <p role="status" data-testid="chat-notice" className="text-sm text-amber-800">
          {notice}
        </p>
      )}
    </div>
  );
}
