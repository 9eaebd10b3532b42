"use client";

import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { useStore } from "zustand";
import type { SendRefusal } from "@/lib/client/sendGuard";
import { serverProblem } from "@/lib/client/serverProblem";
import { chatStore, isStreaming } from "@/lib/client/stores/chatStore";
import { healthStore } from "@/lib/client/stores/healthStore";
import { uploadsInFlight, uploadStore } from "@/lib/client/stores/uploadStore";
import { StrokeIcon } from "@/components/icons/StrokeIcon";
import { ImageFileInput } from "@/components/upload/ImageFileInput";
import { AttachmentTray } from "./AttachmentTray";

const REFUSAL_HINT: Record<SendRefusal, string | null> = {
  empty: "Type a question or attach an image first.",
  streaming: "An answer is still streaming: wait for it or press Stop (Esc).",
  // Shown by the send-blocked line already.
  unavailable: null,
  // Shown by the queued line while it lasts.
  uploading: null,
  // A swallowed repeat press needs no explanation: the first press was sent.
  debounced: null,
};

const iconButton =
  "flex h-10 w-10 shrink-0 items-center justify-center rounded-lg border border-slate-300 text-slate-700 hover:bg-slate-100";

/**
 * The question box: Enter sends, Shift+Enter starts a new line (never while an IME composes). While an answer streams,
 * Stop (or Esc) ends it and nothing else: Stop and Send are separate buttons, so a Stop can never submit the draft.
 * Images come in through the attach button; a Send pressed while they upload goes out once they have arrived.
 * Below the desktop breakpoint, where the images panel is not beside the conversation, `imagesPanel` opens above the
 * question box from the Images button (the gallery: statuses, attaching an earlier image again).
 */
export function Composer({ imagesPanel }: { imagesPanel: React.ReactNode }) {
  const draft = useStore(chatStore, (state) => state.draft);
  const streaming = useStore(chatStore, isStreaming);
  const hasAttachments = useStore(chatStore, (state) => state.attachments.length > 0);
  const sendQueued = useStore(chatStore, (state) => state.sendQueued);
  const uploading = useStore(uploadStore, (state) => uploadsInFlight(state.entries));
  const blocked = useStore(healthStore, (state) => serverProblem(state.connection)?.blocksSending ?? null);
  const [hint, setHint] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const [imagesOpen, setImagesOpen] = useState(false);

  useEffect(() => {
    if (!streaming) return;
    const onKeyDown = (event: globalThis.KeyboardEvent) => {
      // An open dialog (the image viewer) takes Esc for itself.
      if (event.key !== "Escape" || event.defaultPrevented || document.querySelector("dialog[open]") !== null) return;
      chatStore.getState().stop();
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [streaming]);

  const send = () => {
    const decision = chatStore.getState().send();
    setHint(decision.send ? null : REFUSAL_HINT[decision.reason]);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key !== "Enter" || event.shiftKey || event.nativeEvent.isComposing) return;
    event.preventDefault();
    send();
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!streaming) send();
  };

  const nothingToSend = draft.trim() === "" && !hasAttachments && uploading === 0;
  return (
    <form
      onSubmit={onSubmit}
      data-testid="composer"
      className="shrink-0 rounded-xl border border-slate-300 bg-white p-2 shadow-sm focus-within:border-blue-400"
    >
      {imagesOpen && (
        <div
          id="composer-images"
          className="mb-2 max-h-[50dvh] overflow-y-auto border-b border-slate-200 p-1 pb-3 lg:hidden"
        >
          {imagesPanel}
        </div>
      )}
      <AttachmentTray />
      <div className="flex items-end gap-2">
        <button
          type="button"
          onClick={() => fileInput.current?.click()}
          aria-label="Attach images"
          title="Attach images"
          className={iconButton}
        >
          <StrokeIcon size="md">
            <path d="M21 11.5l-8.5 8.5a5 5 0 01-7-7l8.5-8.5a3.3 3.3 0 014.7 4.7l-8.5 8.5a1.7 1.7 0 01-2.4-2.4l7.8-7.8" />
          </StrokeIcon>
        </button>
        <ImageFileInput ref={fileInput} testId="composer-file-input" />
        <button
          type="button"
          onClick={() => setImagesOpen(!imagesOpen)}
          aria-expanded={imagesOpen}
          aria-controls="composer-images"
          aria-label="Images"
          title="The images of this session"
          className={`${iconButton} lg:hidden`}
        >
          <StrokeIcon size="md">
            <rect x="3" y="5" width="18" height="14" rx="2" />
            <path d="M3 16l5-5 4 4 3-3 6 6" />
          </StrokeIcon>
        </button>
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
          placeholder="Ask about the attached images… (Enter sends, Shift+Enter: new line)"
          className="max-h-48 min-h-[2.5rem] flex-1 resize-none bg-transparent px-1 py-1.5 text-sm outline-none sm:resize-y"
        />
        {streaming ? (
          <button
            key="stop"
            type="button"
            onClick={(event) => {
              event.preventDefault();
              chatStore.getState().stop();
            }}
            title="Stop the answer (Esc)"
            className="rounded-lg bg-slate-800 px-4 py-2 text-sm font-medium text-white hover:bg-slate-900"
          >
            Stop
          </button>
        ) : (
          <button
            key="send"
            type="submit"
            disabled={blocked !== null || nothingToSend}
            aria-describedby={blocked !== null ? "send-blocked" : undefined}
            className="rounded-lg bg-blue-700 px-4 py-2 text-sm font-medium text-white hover:bg-blue-800 disabled:cursor-not-allowed disabled:bg-slate-300 disabled:text-slate-700"
          >
            Send
          </button>
        )}
      </div>
      {blocked !== null && (
        <p id="send-blocked" data-testid="send-blocked" className="px-2 pt-1 text-xs text-red-800">
          Sending is off: {blocked}
        </p>
      )}
      {sendQueued && uploading > 0 && (
        <p role="status" data-testid="send-queued" className="px-2 pt-1 text-xs text-slate-700">
          Your question goes out as soon as the upload has finished.
        </p>
      )}
      {hint !== null && (
        <p role="status" className="px-2 pt-1 text-xs text-slate-700">
          {hint}
        </p>
      )}
    </form>
  );
}
