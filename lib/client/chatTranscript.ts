/**
 * One question and its answer as the page shows them, and the pure transitions the chat stream drives.
 *
 * Lifecycle of a turn: `waiting` (request sent) → `streaming` (meta received) → `done`; from `waiting` or
 * `streaming` it may instead end `stopped` (Stop pressed) or `failed` (HTTP, network or generation error). Ended
 * turns never change again: events arriving for them are ignored.
 */
import type { ChatDoneEvent, ChatMetaEvent, ChatStreamEvent } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";

export type TurnStatus = "waiting" | "streaming" | "done" | "stopped" | "failed";

export interface Question {
  text: string;
  imageIds: ImageId[];
}

/** How the turn came to be: a new question, Regenerate (a fresh sample of the last one), or an edited last question. */
export type TurnOrigin = "asked" | "regenerated" | "edited";

export interface Turn {
  id: string;
  question: Question;
  origin: TurnOrigin;
  status: TurnStatus;
  answer: string;
  meta: ChatMetaEvent | null;
  done: ChatDoneEvent | null;
  error: { code: string; message: string } | null;
}

export function isTurnActive(turn: Turn): boolean {
  return turn.status === "waiting" || turn.status === "streaming";
}

export function startTurn(id: string, question: Question, origin: TurnOrigin = "asked"): Turn {
  return { id, question, origin, status: "waiting", answer: "", meta: null, done: null, error: null };
}

export function applyChatEvent(turn: Turn, event: ChatStreamEvent): Turn {
  if (!isTurnActive(turn)) return turn;
  switch (event.type) {
    case "meta":
      return { ...turn, status: "streaming", meta: event.data };
    case "token":
      return { ...turn, status: "streaming", answer: turn.answer + event.data.text };
    case "done":
      return { ...turn, status: "done", done: event.data };
    case "error":
      return { ...turn, status: "failed", error: event.data };
  }
}

export function stopTurn(turn: Turn): Turn {
  return isTurnActive(turn) ? { ...turn, status: "stopped" } : turn;
}

export function failTurn(turn: Turn, error: { code: string; message: string }): Turn {
  return isTurnActive(turn) ? { ...turn, status: "failed", error } : turn;
}

/**
 * Whether the server has this exchange in the session's history. It does once it sent `meta`; a turn refused before
 * that (HTTP error, network) never reached the session, so regenerating it is a plain resend.
 */
export function reachedServerSession(turn: Turn): boolean {
  return turn.meta !== null;
}
