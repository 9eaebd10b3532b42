/**
 * The notice between the tabs of this origin that a chat's record changed in the database they share (saved, renamed
 * or deleted), so that each re-reads that record for its list: without it, a chat started in one tab would appear in
 * another tab's list only after a reload. A notice names the chat only; the record itself is always read from the
 * database, the one owner of the history. A BroadcastChannel never delivers a tab's own notices back to it.
 */

const CHANNEL_NAME = "vlcache-history";

export interface HistoryChannel {
  /** Tells the other tabs that chat `chatId` changed. */
  announce(chatId: string): void;
  close(): void;
}

/** Listens for the other tabs' notices; null where the browser has no BroadcastChannel (the list then syncs on reload). */
export function openHistoryChannel(onChange: (chatId: string) => void): HistoryChannel | null {
  if (typeof BroadcastChannel === "undefined") return null;
  const channel = new BroadcastChannel(CHANNEL_NAME);
  channel.onmessage = (event: MessageEvent<unknown>) => {
    const chatId = chatIdOf(event.data);
    if (chatId !== null) onChange(chatId);
  };
  return {
    announce: (chatId) => channel.postMessage({ chatId }),
    close: () => channel.close(),
  };
}

/** The chat a notice names, or null for anything else (another version's notice). */
export function chatIdOf(notice: unknown): string | null {
  if (typeof notice !== "object" || notice === null) return null;
  const { chatId } = notice as { chatId?: unknown };
  return typeof chatId === "string" && chatId !== "" ? chatId : null;
}
