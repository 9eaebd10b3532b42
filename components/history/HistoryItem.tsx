"use client";

import { useState } from "react";
import type { ChatSummary } from "@/lib/client/history/chatList";
import { historyStore } from "@/lib/client/history/historyStore";
import { StrokeIcon } from "@/components/icons/StrokeIcon";

type Mode = "view" | "rename" | "confirm-delete";

/** 16-pixel line icons (paths from the 24-unit grid), so the row keeps its width for the title. */
const PENCIL = "M12 20h9M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4Z";
const TRASH = "M3 6h18M8 6V4h8v2M19 6l-1 14H6L5 6M10 11v6M14 11v6";

const iconButton = "rounded p-1.5 text-slate-500 hover:bg-slate-200 hover:text-slate-800";
const smallButton = "rounded px-1.5 py-0.5 text-xs text-slate-600 hover:bg-slate-200";
const dangerButton = "rounded bg-red-600 px-2 py-0.5 text-xs font-medium text-white hover:bg-red-700";

/** One past chat: opens on click; renames in place; deletes after a confirmation (here and on the server). */
export function HistoryItem({
  chat,
  current,
  onOpened,
}: {
  chat: ChatSummary;
  current: boolean;
  onOpened?: () => void;
}) {
  const [mode, setMode] = useState<Mode>("view");
  const history = historyStore.getState();
  const rowTone = current ? "bg-slate-200" : "hover:bg-slate-100";

  if (mode === "rename") {
    return (
      <li data-testid="history-chat" data-chat-id={chat.id} className="rounded-md bg-slate-100 p-1.5">
        <form
          className="flex items-center gap-1"
          onSubmit={(event) => {
            event.preventDefault();
            const title = new FormData(event.currentTarget).get("title");
            history.rename(chat.id, typeof title === "string" ? title : "");
            setMode("view");
          }}
        >
          <input
            name="title"
            aria-label="Chat title"
            defaultValue={chat.title}
            autoFocus
            onKeyDown={(event) => {
              if (event.key === "Escape") {
                event.preventDefault();
                setMode("view");
              }
            }}
            className="min-w-0 flex-1 rounded border border-slate-300 bg-white px-1.5 py-0.5 text-sm"
          />
          <button type="submit" className={smallButton}>
            Save
          </button>
          <button type="button" className={smallButton} onClick={() => setMode("view")}>
            Cancel
          </button>
        </form>
      </li>
    );
  }

  if (mode === "confirm-delete") {
    return (
      <li data-testid="history-chat" data-chat-id={chat.id} className="rounded-md bg-red-50 p-2 text-xs text-red-900">
        <p>Delete “{chat.title}”? It is removed from this browser and from the server.</p>
        <div className="mt-1.5 flex gap-1">
          <button type="button" className={dangerButton} onClick={() => history.remove(chat.id)}>
            Delete
          </button>
          <button type="button" className={smallButton} onClick={() => setMode("view")}>
            Cancel
          </button>
        </div>
      </li>
    );
  }

  return (
    <li
      data-testid="history-chat"
      data-chat-id={chat.id}
      className={`flex items-center gap-0.5 rounded-md pr-1 ${rowTone}`}
    >
      <button
        type="button"
        aria-current={current ? "true" : undefined}
        onClick={() => {
          history.open(chat.id);
          onOpened?.();
        }}
        className="min-w-0 flex-1 px-2 py-1.5 text-left"
      >
        <span data-testid="history-chat-title" className="block truncate text-sm text-slate-800">
          {chat.title}
        </span>
        <span className="block text-xs text-slate-600">
          {chat.questionCount} {chat.questionCount === 1 ? "question" : "questions"}
        </span>
      </button>
      <button
        type="button"
        aria-label={`Rename ${chat.title}`}
        title="Rename"
        className={iconButton}
        onClick={() => setMode("rename")}
      >
        <StrokeIcon size="sm">
          <path d={PENCIL} />
        </StrokeIcon>
      </button>
      <button
        type="button"
        aria-label={`Delete ${chat.title}`}
        title="Delete"
        className={iconButton}
        onClick={() => setMode("confirm-delete")}
      >
        <StrokeIcon size="sm">
          <path d={TRASH} />
        </StrokeIcon>
      </button>
    </li>
  );
}
