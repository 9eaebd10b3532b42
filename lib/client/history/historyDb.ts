/**
 * The browser's chat history in IndexedDB (through `idb`): one record per conversation, keyed by the chat store's
 * chatId, and which conversation the page showed last (so a reload reopens it).
 *
 * Read-modify-write steps (save, rename) run in one transaction, so a rename and a save racing each other both land.
 * Records this version cannot read are left where they are and not listed.
 */
import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import type { ChatSnapshot } from "../stores/chatStore";
import { parseChatRecord, recordRenamed, recordWithSnapshot, type ChatRecord } from "./chatRecord";

const DB_NAME = "vlcache-history";
const DB_VERSION = 1;
const CURRENT_CHAT_KEY = "currentChatId";
/** Opening waits on other tabs holding an older version; past this the page goes on without history. */
const OPEN_TIMEOUT_MS = 5_000;

interface HistorySchema extends DBSchema {
  /** Values are ChatRecords as some version wrote them: checked on every read. */
  chats: { key: string; value: unknown };
  page: { key: typeof CURRENT_CHAT_KEY; value: string };
}

export interface HistoryDb {
  listChats(): Promise<ChatRecord[]>;
  loadChat(id: string): Promise<ChatRecord | null>;
  /** Writes the snapshot's transcript into its record (created on first save) and returns the record. */
  saveSnapshot(snapshot: ChatSnapshot, now: number): Promise<ChatRecord>;
  /** The renamed record, or null when there is no such chat. */
  renameChat(id: string, title: string): Promise<ChatRecord | null>;
  /** Removes the record and returns it as it was (null when there was none). */
  deleteChat(id: string): Promise<ChatRecord | null>;
  currentChatId(): Promise<string | null>;
  setCurrentChatId(id: string): Promise<void>;
  close(): void;
}

export async function openHistoryDb(): Promise<HistoryDb> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let gaveUp = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      gaveUp = true;
      reject(
        new Error(`the browser did not open its database within ${OPEN_TIMEOUT_MS / 1000} s (another tab may hold it)`),
      );
    }, OPEN_TIMEOUT_MS);
  });
  const opening = openDB<HistorySchema>(DB_NAME, DB_VERSION, {
    upgrade(db) {
      db.createObjectStore("chats");
      db.createObjectStore("page");
    },
  });
  // Opened after the page gave up: nobody will use it, so it must not block another tab's upgrade.
  void opening.then(
    (db) => gaveUp && db.close(),
    () => undefined,
  );
  try {
    return historyDbOver(await Promise.race([opening, timeout]));
  } finally {
    clearTimeout(timer);
  }
}

function historyDbOver(db: IDBPDatabase<HistorySchema>): HistoryDb {
  return {
    async listChats() {
      const values = await db.getAll("chats");
      return values.map(parseChatRecord).filter((record) => record !== null);
    },

    async loadChat(id) {
      return parseChatRecord(await db.get("chats", id));
    },

    async saveSnapshot(snapshot, now) {
      const tx = db.transaction("chats", "readwrite");
      const record = recordWithSnapshot(
        parseChatRecord(await tx.store.get(snapshot.chatId)) ?? undefined,
        snapshot,
        now,
      );
      await Promise.all([tx.store.put(record, record.id), tx.done]);
      return record;
    },

    async renameChat(id, title) {
      const tx = db.transaction("chats", "readwrite");
      const existing = parseChatRecord(await tx.store.get(id));
      const record = existing === null ? null : recordRenamed(existing, title);
      await Promise.all([record === null ? undefined : tx.store.put(record, id), tx.done]);
      return record;
    },

    async deleteChat(id) {
      const tx = db.transaction("chats", "readwrite");
      const existing = parseChatRecord(await tx.store.get(id));
      await Promise.all([tx.store.delete(id), tx.done]);
      return existing;
    },

    async currentChatId() {
      return (await db.get("page", CURRENT_CHAT_KEY)) ?? null;
    },

    async setCurrentChatId(id) {
      await db.put("page", id, CURRENT_CHAT_KEY);
    },

    close: () => db.close(),
  };
}
