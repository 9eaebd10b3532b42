/**
 * The conversation on the page: transcript, the draft being typed, images attached to the next question, and the
 * one answer that may be streaming.
 *
 * Invariants: at most one turn is active (waiting/streaming), and it is the last one; `sessionId` is the id the
 * server named in the latest `meta` event, or null before the first answer, after New chat, or after the server
 * restarted (its sessions are then gone, so the next question starts a new one). `chatId` names the conversation
 * on this page (the browser's history keys transcripts by it); it changes exactly on New chat and `restore`.
 * `sendQueued` is true only while uploads are in flight: a Send pressed then goes out, with those images attached,
 * once they have all settled.
 */
import { createStore, type StoreApi } from "zustand/vanilla";
import type { ChatRequest } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";
import { ApiError, isAbortError } from "../apiError";
import { streamChat } from "../chatStream";
import {
  applyChatEvent,
  failTurn,
  isTurnActive,
  keptServerTurns,
  startTurn,
  stopTurn,
  type Question,
  type Turn,
  type TurnOrigin,
} from "../chatTranscript";
import { SEND_DEBOUNCE_MS } from "../clientConfig";
import { regenerateOptions, requestOptions } from "../generationSettings";
import { guardSend, type SendDecision } from "../sendGuard";
import { serverProblem } from "../serverProblem";
import { healthStore, recheckHealth } from "./healthStore";
import { settingsStore } from "./settingsStore";
import { uploadsInFlight, uploadStore } from "./uploadStore";

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
  /** Send was pressed while images were still uploading; it goes out when they settle. */
  sendQueued: boolean;

  setDraft(text: string): void;
  attach(imageId: ImageId): void;
  detach(imageId: ImageId): void;
  /** Sends the draft with the attachments; returns why not when it does not (or queues it behind uploads). */
  send(): SendDecision;
  /** Every upload has settled: sends a queued question. */
  uploadsSettled(): void;
  stop(): void;
  /** Asks the last question again for a fresh sample (regenerateOptions), replacing its answer. */
  regenerate(): void;
  /**
   * Replaces the text of turn `turnId`'s question and asks it again: its answer and every later turn are replaced by
   * the new answer (here and in the server's session); earlier turns stay as they are.
   */
  editQuestion(turnId: string, text: string): void;
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
  /** The same for Regenerate: a fresh sample, the response cache skipped. */
  regenerateOptions(): Pick<ChatRequest, "params" | "cache">;
  debounceMs: number;
  /** Images still uploading (a Send waits for them); none when absent. */
  uploadsInFlight?(): number;
  /** Why the server cannot answer now, or null; always null when absent. */
  unavailable?(): string | null;
  /** Called after a request failed for any reason but Stop (e.g. to re-check the server's health at once). */
  onRequestFailed?(): void;
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
        deps.onRequestFailed?.();
        if (error instanceof ApiError)
          updateTurn(id, (turn) => failTurn(turn, { code: error.code, message: error.message }));
        else updateTurn(id, (turn) => failTurn(turn, { code: "client_error", message: String(error) }));
      } finally {
        if (controller === own) controller = null;
      }
    }

    /**
     * Sends `question` as a new turn in place of `turns[replaceFrom]` and every turn after it (by default none: a
     * new question). The server drops what its session recorded of the replaced turns (keepTurns); turns it never
     * saw (refused, network) need no replacing there.
     */
    function ask(question: Question, origin: TurnOrigin, replaceFrom?: number): void {
      const id = `turn-${++turnCounter}`;
      const { sessionId, turns } = get();
      const from = replaceFrom ?? turns.length;
      const keepTurns = sessionId === null ? null : keptServerTurns(turns, from, sessionId);
      const request: ChatRequest = {
        ...(sessionId === null ? {} : { sessionId }),
        message: { text: question.text, ...(question.imageIds.length > 0 ? { imageIds: question.imageIds } : {}) },
        ...(origin === "regenerated" ? deps.regenerateOptions() : deps.requestOptions()),
        ...(keepTurns === null ? {} : { keepTurns }),
      };
      set((state) => ({ turns: [...state.turns.slice(0, from), startTurn(id, question, origin)], notice: null }));
      void run(id, request);
    }

    /** The state of a conversation nobody has written in yet: the store's start, and what New chat goes back to. */
    const emptyConversation = () => ({
      chatId: newChatId(),
      sessionId: null,
      turns: [],
      draft: "",
      attachments: [],
      notice: null,
      lastPressAt: null,
      sendQueued: false,
    });

    return {
      ...emptyConversation(),

      setDraft: (text) => set({ draft: text }),
      attach: (imageId) =>
        set((state) =>
          state.attachments.includes(imageId) ? state : { attachments: [...state.attachments, imageId] },
        ),
      detach: (imageId) => set((state) => ({ attachments: state.attachments.filter((id) => id !== imageId) })),

      send() {
        const state = get();
        const { decision, lastPressAt } = guardSend({
          text: state.draft,
          imageCount: state.attachments.length,
          uploading: deps.uploadsInFlight?.() ?? 0,
          unavailable: deps.unavailable?.() ?? null,
          streaming: isStreaming(state),
          now: now(),
          lastPressAt: state.lastPressAt,
          debounceMs: deps.debounceMs,
        });
        set({ lastPressAt, sendQueued: !decision.send && decision.reason === "uploading" });
        if (!decision.send) return decision;
        const question: Question = { text: state.draft.trim(), imageIds: state.attachments };
        set({ draft: "", attachments: [] });
        ask(question, "asked");
        return decision;
      },

      uploadsSettled() {
        if (!get().sendQueued) return;
        // The queued press already counted for the debounce; this send is its continuation, not a new press.
        set({ sendQueued: false, lastPressAt: null });
        get().send();
      },

      stop() {
        controller?.abort();
        const last = get().turns.at(-1);
        if (last !== undefined) updateTurn(last.id, stopTurn);
      },

      regenerate() {
        const { turns } = get();
        const last = turns.at(-1);
        if (last === undefined || isTurnActive(last)) return;
        ask(last.question, "regenerated", turns.length - 1);
      },

      editQuestion(turnId, text) {
        const state = get();
        const index = state.turns.findIndex((turn) => turn.id === turnId);
        const edited = state.turns[index];
        if (edited === undefined || isStreaming(state)) return;
        if (text.trim() === "" && edited.question.imageIds.length === 0) return;
        ask({ text: text.trim(), imageIds: edited.question.imageIds }, "edited", index);
      },

      newChat() {
        controller?.abort();
        set(emptyConversation());
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

/** A new seed for each Regenerate, inside the server's seed range. */
const freshSeed = () => Math.floor(Math.random() * 2 ** 31);

/**
 * The page's conversation: sends with the settings panel's current values, waits for the upload store's images,
 * refuses while the server cannot answer, and re-checks the server's health after any failed request.
 */
export const chatStore = createChatStore({
  requestOptions: () => requestOptions(settingsStore.getState().settings),
  regenerateOptions: () => regenerateOptions(settingsStore.getState().settings, freshSeed()),
  debounceMs: SEND_DEBOUNCE_MS,
  uploadsInFlight: () => uploadsInFlight(uploadStore.getState().entries),
  unavailable: () => serverProblem(healthStore.getState().connection)?.blocksSending ?? null,
  onRequestFailed: recheckHealth,
});
