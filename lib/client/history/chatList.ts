/** The history list: one line per past chat, most recently active first. */
import type { ChatRecord } from "./chatRecord";
import { chatTitle } from "./chatTitle";

export interface ChatSummary {
  id: string;
  title: string;
  questionCount: number;
  updatedAt: number;
}

export function summarize(record: ChatRecord): ChatSummary {
  return { id: record.id, title: chatTitle(record), questionCount: record.turns.length, updatedAt: record.updatedAt };
}

/** Newest activity first; equal times by id, so the order never depends on how the list was read. */
export function orderChats(chats: readonly ChatSummary[]): ChatSummary[] {
  return [...chats].sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The list with `chat` added, or in place of the entry with its id. */
export function withChat(chats: readonly ChatSummary[], chat: ChatSummary): ChatSummary[] {
  return orderChats([...chats.filter((entry) => entry.id !== chat.id), chat]);
}

export function withoutChat(chats: readonly ChatSummary[], id: string): ChatSummary[] {
  return chats.filter((entry) => entry.id !== id);
}
