/**
 * The conversation on the page: transcript, the draft being typed, images attached to the next question, and the
 * one answer that may be streaming.
 *
 * Invariants: at most one turn is active (waiting/streaming), and it is the last one; `sessionId` is the id the
 * server named in the latest `meta` event, or null before the first answer, after New chat, or after the server
 * restarted (its sessions are then gone, so the next question starts a new one). `chatId` names the conversation
 * on this page (the browser's history keys transcripts by it); it changes exactly on New chat and `restore`.
 */
import { createStore, type StoreApi } from "zustand/vanilla";
import type { ChatRequest } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";
import { ApiError, isAbortError } from "../apiError";
import { streamChat } from "../chatStream";
import { applyChatEvent, failTurn, isTurnActive, reachedServerSession, startTurn, stopTurn, type Question, type Turn } from "../chatTranscript";
import { SEND_DEBOUNCE_MS } from "../clientConfig";
import { requestOptions } from "../generationSettings";
import { guardSend, type SendDecision } from "../sendGuard";
import { settingsStore } from "./settingsStore";

/** What names and fills a conversation: saved by the browser's history, handed back to `restore`. */
export interface ChatSnapshot {
  chatId: string;
  sessionId: SessionId | null;
  turns: Turn[];
}

export interface ChatState {
  chatId: string;
  sessionId: SessionId | null;
  turns: Turn[];
  draft: string;
  attachments: ImageId[];
  /** Shown above the chat box, e.g. after a server restart; cleared by the next send or New chat. */
  notice: string | null;
  lastPressAt: number | null;

  setDraft(text: string): void;
  attach(imageId: ImageId): void;
  detach(imageId: ImageId): void;
  /** Sends the draft with the attachments; returns why not when it does not. */
  send(): SendDecision;
  stop(): void;
  /** Asks the last question again, replacing its answer. */
  regenerate(): void;
  /** Starts an empty conversation under a new chatId; the server's session stays (the history may reopen it). */
  newChat(): void;
  /** Shows a saved conversation (stopping any answer still streaming); the draft and attachments stay. */
  restore(chat: ChatSnapshot): void;
  /** The server restarted: its session is gone, the transcript stays for reading. */
  forgetSession(notice: string): void;
}

export interface ChatStoreDeps {
  /** The settings panel's part of each request, read at send time. */
  requestOptions(): Pick<ChatRequest, "params" | "cache">;
  debounceMs: number;
  /** Origin of the API; empty means the page's own. */
  baseUrl?: string;
  now?: () => number;
  /**
   * Tokens arriving within this window are shown together. A fast model streams a token every millisecond or two;
   * rendering the growing Markdown once per token would keep the browser's main thread busy long after the answer
   * ended (and starve clicks such as Stop).
   */
  tokenBatchMs?: number;
  newChatId?: () => string;
}

const DEFAULT_TOKEN_BATCH_MS = 40;

/** 128 random bits as hex; getRandomValues, unlike randomUUID, also exists on pages served over plain http. */
function randomChatId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function isStreaming(state: Pick<ChatState, "turns">): boolean {
  const last = state.turns.at(-1);
  return last !== undefined && isTurnActive(last);
}

export function createChatStore(deps: ChatStoreDeps): StoreApi<ChatState> {
  const now = deps.now ?? Date.now;
  const baseUrl = deps.baseUrl ?? "";
  const tokenBatchMs = deps.tokenBatchMs ?? DEFAULT_TOKEN_BATCH_MS;
  const newChatId = deps.newChatId ?? randomChatId;
  let controller: AbortController | null = null;
  let turnCounter = 0;

  return createStore<ChatState>()((set, get) => {
    const updateTurn = (id: string, change: (turn: Turn) => Turn) =>
      set((state) => ({ turns: state.turns.map((turn) => (turn.id === id ? change(turn) : turn)) }));

    /** Streams one answer into turn `id`. Resolves when the turn has ended, however it ended. */
    async function run(id: string, request: ChatRequest): Promise<void> {
      const own = new AbortController();
      controller = own;
      // Token text not shown yet; other events show at once, after it. Once stopped, the turn keeps what was shown.
      let unshown = "";
      let batchTimer: ReturnType<typeof setTimeout> | null = null;
      const showTokens = () => {
        if (batchTimer !== null) clearTimeout(batchTimer);
        batchTimer = null;
        if (unshown === "") return;
        const text = unshown;
        unshown = "";
        updateTurn(id, (turn) => applyChatEvent(turn, { type: "token", data: { text } }));
      };
      try {
        for await (const event of streamChat(request, { signal: own.signal, baseUrl })) {
          if (event.type === "token") {
            unshown += event.data.text;
            batchTimer ??= setTimeout(showTokens, tokenBatchMs);
            continue;
          }
          showTokens();
          if (event.type === "meta") set({ sessionId: event.data.sessionId });
          updateTurn(id, (turn) => applyChatEvent(turn, event));
        }
        showTokens();
      } catch (error) {
        if (isAbortError(error)) {
          if (batchTimer !== null) clearTimeout(batchTimer);
          updateTurn(id, stopTurn);
          return;
        }
        showTokens();
        if (error instanceof ApiError) updateTurn(id, (turn) => failTurn(turn, { code: error.code, message: error.message }));
        else updateTurn(id, (turn) => failTurn(turn, { code: "client_error", message: String(error) }));
      } finally {
        if (controller === own) controller = null;
      }
    }

    function ask(question: Question, replaceLast: boolean, regenerate: boolean): void {
      const id = `turn-${++turnCounter}`;
      const { sessionId } = get();
      const request: ChatRequest = {
        ...(sessionId === null ? {} : { sessionId }),
        message: { text: question.text, ...(question.imageIds.length > 0 ? { imageIds: question.imageIds } : {}) },
        ...deps.requestOptions(),
        ...(regenerate ? { regenerate: true } : {}),
      };
      set((state) => ({
        turns: [...(replaceLast ? state.turns.slice(0, -1) : state.turns), startTurn(id, question)],
        notice: null,
      }));
      void run(id, request);
    }

    return {
      chatId: newChatId(),
      sessionId: null,
      turns: [],
      draft: "",
      attachments: [],
      notice: null,
      lastPressAt: null,

      setDraft: (text) => set({ draft: text }),
      attach: (imageId) =>
        set((state) => (state.attachments.includes(imageId) ? state : { attachments: [...state.attachments, imageId] })),
      detach: (imageId) => set((state) => ({ attachments: state.attachments.filter((id) => id !== imageId) })),

      send() {
        const state = get();
        const { decision, lastPressAt } = guardSend({
          text: state.draft,
          streaming: isStreaming(state),
          now: now(),
          lastPressAt: state.lastPressAt,
          debounceMs: deps.debounceMs,
        });
        set({ lastPressAt });
        if (!decision.send) return decision;
        const question: Question = { text: state.draft.trim(), imageIds: state.attachments };
        set({ draft: "", attachments: [] });
        ask(question, false, false);
        return decision;
      },

      stop() {
        controller?.abort();
        const last = get().turns.at(-1);
        if (last !== undefined) updateTurn(last.id, stopTurn);
      },

      regenerate() {
        const state = get();
        const last = state.turns.at(-1);
        if (last === undefined || isTurnActive(last)) return;
        ask(last.question, true, state.sessionId !== null && reachedServerSession(last));
      },

      newChat() {
        controller?.abort();
        set({ chatId: newChatId(), sessionId: null, turns: [], draft: "", attachments: [], notice: null, lastPressAt: null });
      },

      restore({ chatId, sessionId, turns }) {
        controller?.abort();
        set({ chatId, sessionId, turns, notice: null, lastPressAt: null });
      },

      forgetSession(notice) {
        set({ sessionId: null, notice });
      },
    };
  });
}

/** The page's conversation, sending with the settings panel's current values. */
export const chatStore = createChatStore({
  requestOptions: () => requestOptions(settingsStore.getState().settings),
  debounceMs: SEND_DEBOUNCE_MS,
});
