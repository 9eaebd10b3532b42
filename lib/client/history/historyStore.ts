/**
 * The history sidebar's state, and the link between the chat store and the browser's database (historyDb): every
 * change of the conversation is saved, a reload reopens the conversation shown last, past chats can be opened,
 * renamed and deleted (with their server session), and New chat can be undone. The list follows the changes other
 * tabs make (historyChannel); the conversation a tab shows is its own.
 *
 * Invariants: writes reach the database in the order they were made (one queue); a chat deleted here is never
 * written again; `undo` holds only a conversation that New chat replaced, until the new one gets its first question.
 */
import { createStore, type StoreApi } from "zustand/vanilla";
import type { SessionId } from "@/lib/ids";
import { apiErrorFromResponse } from "../apiError";
import { chatStore, isStreaming, type ChatSnapshot, type ChatState } from "../stores/chatStore";
import { orderChats, summarize, withChat, withoutChat, type ChatSummary } from "./chatList";
import { savedTurns, settledSnapshot, snapshotOf } from "./chatRecord";
import { chatTitle } from "./chatTitle";
import { openHistoryChannel, type HistoryChannel } from "./historyChannel";
import { openHistoryDb, type HistoryDb } from "./historyDb";

export type HistoryStatus = { state: "opening" } | { state: "ready" } | { state: "off"; reason: string };

export interface HistoryState {
  status: HistoryStatus;
  /** Past and current chats that have at least one question, most recently active first. */
  chats: ChatSummary[];
  /** The conversation New chat just replaced; `undoNewChat` brings it back. */
  undo: { chat: ChatSnapshot; title: string } | null;
  /** What went wrong with the last history action, in words for the reader; null when nothing did. */
  problem: string | null;

  /** Opens the database, reopens the last conversation and starts saving; returns the function that stops it. */
  connect(): () => void;
  open(chatId: string): void;
  rename(chatId: string, title: string): void;
  /** Deletes the chat here and its session on the server. */
  remove(chatId: string): void;
  undoNewChat(): void;
  dismissUndo(): void;
  dismissProblem(): void;
}

export interface HistoryDeps {
  chatStore: StoreApi<ChatState>;
  openDb(): Promise<HistoryDb>;
  /** The notices between tabs; default: a BroadcastChannel (historyChannel.ts). */
  openChannel?: (onChange: (chatId: string) => void) => HistoryChannel | null;
  /** Origin of the API; empty means the page's own. */
  baseUrl?: string;
  now?: () => number;
  /**
   * While an answer streams, its text is saved at most this often (and once more when it ends): a reload may lose
   * up to this much of the answer's tail on the page (the server's session has all of it).
   */
  saveIntervalMs?: number;
}

const DEFAULT_SAVE_INTERVAL_MS = 1_000;
const SERVER_DELETE_TIMEOUT_MS = 10_000;

export const LOST_SESSION_NOTICE =
  "The server no longer has this conversation (it expired or the server was reset): your next question starts a new one.";

function snapshotOfState(state: ChatState): ChatSnapshot {
  return { chatId: state.chatId, sessionId: state.sessionId, turns: state.turns };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function createHistoryStore(deps: HistoryDeps): StoreApi<HistoryState> {
  const conversation = deps.chatStore;
  const now = deps.now ?? Date.now;
  const baseUrl = deps.baseUrl ?? "";
  const saveIntervalMs = deps.saveIntervalMs ?? DEFAULT_SAVE_INTERVAL_MS;
  const openChannel = deps.openChannel ?? openHistoryChannel;

  return createStore<HistoryState>()((set, get) => {
    let db: HistoryDb | null = null;
    let channel: HistoryChannel | null = null;
    let queue: Promise<unknown> = Promise.resolve();
    let saveTimer: ReturnType<typeof setTimeout> | null = null;
    /** Set while the history itself switches conversations, which is no New chat to undo. */
    let switching = false;
    const deleted = new Set<string>();

    /** Runs `work` after every earlier database step; a failure is shown as the problem and yields undefined. */
    function enqueue<T>(work: (target: HistoryDb) => Promise<T>): Promise<T | undefined> {
      const target = db;
      if (target === null) return Promise.resolve(undefined);
      const result = queue.then(() => work(target));
      queue = result.catch(() => undefined);
      return result.catch((error: unknown) => {
        set({ problem: `The browser could not update its chat history: ${describe(error)}` });
        return undefined;
      });
    }

    function save(snapshot: ChatSnapshot): void {
      if (snapshot.turns.length === 0) return;
      void enqueue(async (target) => {
        if (deleted.has(snapshot.chatId)) return;
        const record = await target.saveSnapshot(snapshot, now());
        set((state) => ({ chats: withChat(state.chats, summarize(record)) }));
        channel?.announce(record.id);
      });
    }

    /** Another tab changed chat `chatId`: its line in the list is read again (gone when the chat is). */
    function relist(chatId: string): void {
      void enqueue((target) => target.loadChat(chatId)).then((record) => {
        if (record === undefined) return;
        set((state) => ({
          chats:
            record === null || deleted.has(chatId)
              ? withoutChat(state.chats, chatId)
              : withChat(state.chats, summarize(record)),
        }));
      });
    }

    function cancelPendingSave(): boolean {
      if (saveTimer === null) return false;
      clearTimeout(saveTimer);
      saveTimer = null;
      return true;
    }

    /** Changes the shown conversation without offering it back as an undo of New chat. */
    function switchQuietly(change: () => void): void {
      switching = true;
      try {
        change();
      } finally {
        switching = false;
      }
    }

    function switchTo(snapshot: ChatSnapshot): void {
      switchQuietly(() => conversation.getState().restore(snapshot));
    }

    function titleOf(snapshot: ChatSnapshot): string {
      return (
        get().chats.find((chat) => chat.id === snapshot.chatId)?.title ??
        chatTitle({ customTitle: null, turns: savedTurns(snapshot.turns) })
      );
    }

    function onChatChange(state: ChatState, previous: ChatState): void {
      if (state.chatId !== previous.chatId) {
        cancelPendingSave();
        save(snapshotOfState(previous));
        void enqueue((target) => target.setCurrentChatId(state.chatId));
        const replaced = !switching && previous.turns.length > 0 && !deleted.has(previous.chatId);
        set({ undo: replaced ? { chat: settledSnapshot(snapshotOfState(previous)), title: titleOf(previous) } : null });
        return;
      }
      if (state.turns === previous.turns && state.sessionId === previous.sessionId) return;
      if (state.turns.length > 0 && get().undo !== null) set({ undo: null });
      const last = state.turns.at(-1);
      if (state.sessionId !== null && last?.status === "failed" && last.error?.code === "session_not_found") {
        // A reopened chat whose server session is gone: Regenerate or the next question then starts a new session.
        conversation.getState().forgetSession(LOST_SESSION_NOTICE);
        return;
      }
      // A new question and a new session id are saved at once; the answer streaming in at most every saveIntervalMs.
      if (
        isStreaming(state) &&
        state.turns.length === previous.turns.length &&
        state.sessionId === previous.sessionId
      ) {
        saveTimer ??= setTimeout(() => {
          saveTimer = null;
          save(snapshotOfState(conversation.getState()));
        }, saveIntervalMs);
      } else {
        cancelPendingSave();
        save(snapshotOfState(state));
      }
    }

    async function deleteServerSession(sessionId: SessionId): Promise<void> {
      const kept = "Deleted from this browser, but the server kept its copy of the conversation until it expires";
      try {
        const response = await fetch(`${baseUrl}/api/sessions/${encodeURIComponent(sessionId)}`, {
          method: "DELETE",
          signal: AbortSignal.timeout(SERVER_DELETE_TIMEOUT_MS),
        });
        // 404: the server had already forgotten it (expired or reset); either way it is gone.
        if (response.ok || response.status === 404) return;
        set({ problem: `${kept}: ${(await apiErrorFromResponse(response)).message}` });
      } catch (error) {
        set({ problem: `${kept}: ${describe(error)}.` });
      }
    }

    return {
      status: { state: "opening" },
      chats: [],
      undo: null,
      problem: null,

      connect() {
        let stopped = false;
        let unsubscribe = () => {};
        // A reload mid-answer would otherwise lose up to one save interval of it.
        const saveBeforeUnload = () => {
          if (cancelPendingSave()) save(snapshotOfState(conversation.getState()));
        };
        void (async () => {
          try {
            const opened = await deps.openDb();
            if (stopped) return opened.close();
            db = opened;
            channel = openChannel(relist);
            const [records, currentId] = await Promise.all([opened.listChats(), opened.currentChatId()]);
            if (stopped) return;
            set({ status: { state: "ready" }, chats: orderChats(records.map(summarize)) });
            const shown = conversation.getState();
            const last = records.find((record) => record.id === currentId);
            // Something asked before the database opened wins over the reopened chat.
            if (shown.turns.length === 0 && last !== undefined) switchTo(snapshotOf(last));
            else save(snapshotOfState(shown));
            void enqueue((target) => target.setCurrentChatId(conversation.getState().chatId));
            unsubscribe = conversation.subscribe(onChatChange);
            window.addEventListener("pagehide", saveBeforeUnload);
          } catch (error) {
            if (!stopped) set({ status: { state: "off", reason: describe(error) } });
          }
        })();
        return () => {
          stopped = true;
          unsubscribe();
          window.removeEventListener("pagehide", saveBeforeUnload);
          saveBeforeUnload();
          channel?.close();
          channel = null;
          const closing = db;
          db = null;
          void queue.then(() => closing?.close());
        };
      },

      open(chatId) {
        if (chatId === conversation.getState().chatId) return;
        void enqueue((target) => target.loadChat(chatId)).then((record) => {
          if (record === undefined) return;
          if (record === null) set({ problem: "This chat could not be read from the browser's storage." });
          else switchTo(snapshotOf(record));
        });
      },

      rename(chatId, title) {
        void enqueue((target) => target.renameChat(chatId, title)).then((record) => {
          if (!record) return;
          set((state) => ({ chats: withChat(state.chats, summarize(record)) }));
          channel?.announce(chatId);
        });
      },

      remove(chatId) {
        deleted.add(chatId);
        set((state) => ({
          chats: withoutChat(state.chats, chatId),
          undo: state.undo?.chat.chatId === chatId ? null : state.undo,
        }));
        const shown = conversation.getState();
        const shownSession = shown.chatId === chatId ? shown.sessionId : null;
        if (shown.chatId === chatId) switchQuietly(() => shown.newChat());
        void enqueue((target) => target.deleteChat(chatId)).then((record) => {
          if (record !== undefined) channel?.announce(chatId);
          const sessionId = shownSession ?? record?.sessionId ?? null;
          if (sessionId !== null) void deleteServerSession(sessionId);
        });
      },

      undoNewChat() {
        const { undo } = get();
        if (undo === null) return;
        set({ undo: null });
        switchTo(undo.chat);
      },

      dismissUndo: () => set({ undo: null }),
      dismissProblem: () => set({ problem: null }),
    };
  });
}

/** The page's history, kept for the page's conversation. */
export const historyStore = createHistoryStore({ chatStore, openDb: openHistoryDb });
