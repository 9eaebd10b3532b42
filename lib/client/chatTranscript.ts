/**
 * One question and its answer as the page shows them, and the pure transitions the chat stream drives.
 *
 * Lifecycle of a turn: `waiting` (request sent) → `streaming` (meta received) → `done`; from `waiting` or
 * `streaming` it may instead end `stopped` (Stop pressed) or `failed` (HTTP, network or generation error). Ended
 * turns never change again: events arriving for them are ignored.
 */
import type { ChatDoneEvent, ChatMetaEvent, ChatStreamEvent } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";

export type TurnStatus = "waiting" | "streaming" | "done" | "stopped" | "failed";

export interface Question {
  text: string;
  imageIds: ImageId[];
}

/** How the turn came to be: a new question, Regenerate (a fresh sample of the last one), or an edited question. */
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
 * How many turns of session `sessionId` the server must keep when the page replaces `turns[from]` and every turn after
 * it (Edit, Regenerate): the index, in the session, of the first of them the session recorded. A turn is in the
 * session once the server sent its `meta` naming it; one refused before that (HTTP error, network) never reached it.
 * Null when none of the replaced turns reached this session (refused, or asked in an earlier session): there is
 * nothing to replace, the new turn simply follows. Transcripts saved before `meta` carried `turn` count the turns
 * before `from` that reached the session.
 */
export function keptServerTurns(turns: readonly Turn[], from: number, sessionId: SessionId): number | null {
  const inSession = (turn: Turn) => turn.meta?.sessionId === sessionId;
  const firstReplaced = turns.slice(from).find(inSession);
  if (firstReplaced === undefined) return null;
  return firstReplaced.meta?.turn ?? turns.slice(0, from).filter(inSession).length;
}
