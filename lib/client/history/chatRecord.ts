/**
 * A conversation as the browser keeps it (IndexedDB), and the pure conversions between it and the chat store.
 *
 * Invariants: a saved turn is never active (an answer cut off by a reload or New chat is saved `stopped`, as the
 * server keeps what had streamed); turn ids are not saved: restored turns are numbered `saved-<i>`, which never
 * collides with the `turn-<n>` ids the chat store gives new turns.
 */
import * as z from "zod/mini";
import { doneSchema, errorSchema, metaSchema } from "../chatEvents";
import { stopTurn, type Turn } from "../chatTranscript";
import type { ChatSnapshot } from "../stores/chatStore";
import type { SessionId } from "@/lib/ids";

/** Bumped when the stored shape changes; records of another version are not shown (and not touched). */
export const CHAT_RECORD_VERSION = 1;

export type SavedTurn = Omit<Turn, "id">;

export interface ChatRecord {
  version: typeof CHAT_RECORD_VERSION;
  /** The chat store's chatId. */
  id: string;
  /** The server's session for follow-ups; null when it never had one or is known to be gone. */
  sessionId: SessionId | null;
  turns: SavedTurn[];
  /** Set by Rename; null means the title comes from the first question. */
  customTitle: string | null;
  createdAt: number;
  /** When the transcript last changed (renaming does not count): the list's order. */
  updatedAt: number;
}

export function savedTurns(turns: Turn[]): SavedTurn[] {
  return turns.map((turn) => {
    const { id: _id, ...saved } = stopTurn(turn);
    return saved;
  });
}

export function restoredTurns(saved: SavedTurn[]): Turn[] {
  return saved.map((turn, index) => ({ ...turn, id: `saved-${index}` }));
}

/** The record after the chat store showed `snapshot`: a new one, or `existing` with the transcript replaced. */
export function recordWithSnapshot(existing: ChatRecord | undefined, snapshot: ChatSnapshot, now: number): ChatRecord {
  return {
    version: CHAT_RECORD_VERSION,
    id: snapshot.chatId,
    sessionId: snapshot.sessionId,
    turns: savedTurns(snapshot.turns),
    customTitle: existing?.customTitle ?? null,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
}

/** Blank (or only spaces) goes back to the title from the first question. */
export function recordRenamed(record: ChatRecord, title: string): ChatRecord {
  const trimmed = title.trim().replace(/\s+/g, " ");
  return { ...record, customTitle: trimmed === "" ? null : trimmed };
}

export function snapshotOf(record: ChatRecord): ChatSnapshot {
  return { chatId: record.id, sessionId: record.sessionId, turns: restoredTurns(record.turns) };
}

const savedTurnSchema = z.object({
  question: z.object({ text: z.string(), imageIds: z.array(z.string()) }),
  origin: z.enum(["asked", "regenerated", "edited"]),
  status: z.enum(["done", "stopped", "failed"]),
  answer: z.string(),
  meta: z.nullable(metaSchema),
  done: z.nullable(doneSchema),
  error: z.nullable(errorSchema),
});

const chatRecordSchema = z.object({
  version: z.literal(CHAT_RECORD_VERSION),
  id: z.string().check(z.minLength(1)),
  sessionId: z.nullable(z.string()),
  turns: z.array(savedTurnSchema),
  customTitle: z.nullable(z.string()),
  createdAt: z.number(),
  updatedAt: z.number(),
});

/**
 * The record, or null when `value` is not one this version wrote (another version, or damaged). Ids are opaque
 * strings at run time, so the checked value is the branded type.
 */
export function parseChatRecord(value: unknown): ChatRecord | null {
  const result = chatRecordSchema.safeParse(value);
  return result.success ? (result.data as ChatRecord) : null;
}

/** The snapshot as it would come back from storage: an answer that was still streaming is shown stopped. */
export function settledSnapshot(snapshot: ChatSnapshot): ChatSnapshot {
  return { ...snapshot, turns: restoredTurns(savedTurns(snapshot.turns)) };
}
