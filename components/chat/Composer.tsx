"use client";

import { useState, type FormEvent, type KeyboardEvent } from "react";
import { useStore } from "zustand";
import type { SendRefusal } from "@/lib/client/sendGuard";
import { chatStore, isStreaming } from "@/lib/client/stores/chatStore";
import { AttachmentTray } from "./AttachmentTray";

const REFUSAL_HINT: Record<SendRefusal, string | null> = {
  empty: "Type a question first.",
  streaming: "An answer is still streaming: wait for it or press Stop.",
  // A swallowed repeat press needs no explanation: the first press was sent.
  debounced: null,
};

/** The question box: Enter sends, Shift+Enter starts a new line; Stop replaces Send while an answer streams. */
export function Composer() {
  const draft = useStore(chatStore, (state) => state.draft);
  const streaming = useStore(chatStore, isStreaming);
  const [hint, setHint] = useState<string | null>(null);

  const send = () => {
    const decision = chatStore.getState().send();
    setHint(decision.send ? null : REFUSAL_HINT[decision.reason]);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // While an IME composes text, Enter confirms the composition rather than sending.
    if (event.key !== "Enter" || event.shiftKey || event.nativeEvent.isComposing) return;
    event.preventDefault();
    send();
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    send();
  };

  return (
    <form onSubmit={onSubmit} className="rounded-xl border border-slate-300 bg-white p-2 shadow-sm focus-within:border-blue-400">
      <AttachmentTray />
      <div className="flex items-end gap-2">
        <label htmlFor="question-input" className="sr-only">
          Question
        </label>
        <textarea
          id="question-input"
          data-testid="question-input"
          value={draft}
          onChange={(event) => {
            chatStore.getState().setDraft(event.target.value);
            setHint(null);
          }}
          onKeyDown={onKeyDown}
          rows={2}
          placeholder="Ask about the attached images… (Enter to send, Shift+Enter for a new line)"
          className="max-h-48 min-h-[3rem] flex-1 resize-y bg-transparent px-2 py-1.5 text-sm outline-none"
        />
        {streaming ? (
          <button
            type="button"
            onClick={() => chatStore.getState().stop()}
            className="rounded-lg bg-slate-800 px-4 py-2 text-sm font-medium text-white hover:bg-slate-900"
          >
            Stop
          </button>
        ) : (
          <button
            type="submit"
            disabled={draft.trim() === ""}
            className="rounded-lg bg-blue-600 px-4 py-2 text-sm font-medium text-white hover:bg-blue-700 disabled:cursor-not-allowed disabled:bg-slate-300"
          >
            Send
          </button>
        )}
      </div>
      {hint !== null && (
        <p role="status" className="px-2 pt-1 text-xs text-slate-600">
          {hint}
        </p>
      )}
    </form>
  );
}
