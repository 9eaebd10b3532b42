import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { StoreApi } from "zustand/vanilla";
import type { ChatRequest } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";
import {
  SSE_HEADERS,
  sseMessage as sse,
  startScriptedServer,
  type RecordedRequest,
  type ScriptedServer,
} from "@/tests/support/scriptedServer";
import { createChatStore, isStreaming, type ChatState } from "./chatStore";

const IMAGE = "b".repeat(64) as ImageId;
const OPTIONS = { params: { maxNewTokens: 16, temperature: 0, topP: 1 }, cache: { l1: true, l2: true, l3: false } };
const REGENERATE_OPTIONS = {
  params: { maxNewTokens: 16, temperature: 0.7, topP: 1, seed: 99 },
  cache: { l1: true, l2: true, l3: false },
};
const DONE = {
  usage: { promptTokens: 30, completionTokens: 2 },
  timings: { ttftMs: 12, totalMs: 20, tokensPerSecond: 100 },
};

let answered = 0;
const sessionTurns = new Map<string, number>();
const BURST_TOKENS = 300;

/** Questions script the answer: "slow …" streams dots until the client hangs up, "busy" is refused with 429. */
function respond(request: RecordedRequest, res: ServerResponse): void {
  if (request.method === "DELETE") {
    res.writeHead(204).end();
    return;
  }
  const body = request.body as ChatRequest;
  if (body.message.text === "busy") {
    res.writeHead(429, { "content-type": "application/json", "retry-after": "2" });
    res.end(JSON.stringify({ error: { code: "rate_limited", message: "Queue is full" } }));
    return;
  }
  const sessionId = body.sessionId ?? `s-${++answered}`;
  // The session's turns as the server numbers them: an edit's keepTurns replaces the turns from that index on.
  const turn = body.keepTurns ?? sessionTurns.get(sessionId) ?? 0;
  sessionTurns.set(sessionId, turn + 1);
  const meta = {
    sessionId,
    turn,
    cache: { features: [], prefix: { reused: 0, total: 30 }, response: "miss" },
  };
  res.writeHead(200, SSE_HEADERS);
  if (body.message.text.startsWith("slow")) {
    res.write(sse("meta", meta) + sse("token", { text: "thinking" }));
    const timer = setInterval(() => res.write(sse("token", { text: "." })), 10);
    res.on("close", () => clearInterval(timer));
    return;
  }
  if (body.message.text === "burst") {
    res.write(sse("meta", meta));
    for (let i = 0; i < BURST_TOKENS; i++) res.write(sse("token", { text: `t${i} ` }));
    res.end(sse("done", DONE));
    return;
  }
  res.end(sse("meta", meta) + sse("token", { text: `Answer to ${body.message.text}` }) + sse("done", DONE));
}

let server: ScriptedServer;
let store: StoreApi<ChatState>;
let clock: number;
let inFlight: number;
let unavailable: string | null;
let failures: number;

/** Resolves once no turn is active (the stream has ended one way or another). */
function untilIdle(): Promise<void> {
  return new Promise((resolve) => {
    if (!isStreaming(store.getState())) return resolve();
    const unsubscribe = store.subscribe((state) => {
      if (!isStreaming(state)) {
        unsubscribe();
        resolve();
      }
    });
  });
}

function untilAnswerContains(text: string): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = store.subscribe((state) => {
      if (state.turns.at(-1)?.answer.includes(text)) {
        unsubscribe();
        resolve();
      }
    });
  });
}

function chatRequests(): ChatRequest[] {
  return server.requests.filter((r) => r.url === "/api/chat").map((r) => r.body as ChatRequest);
}

beforeAll(async () => {
  server = await startScriptedServer(respond);
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.requests.length = 0;
  answered = 0;
  sessionTurns.clear();
  clock = 1_000_000;
  inFlight = 0;
  unavailable = null;
  failures = 0;
  store = createChatStore({
    requestOptions: () => OPTIONS,
    regenerateOptions: () => REGENERATE_OPTIONS,
    debounceMs: 300,
    baseUrl: server.baseUrl,
    now: () => clock,
    uploadsInFlight: () => inFlight,
    unavailable: () => unavailable,
    onRequestFailed: () => failures++,
  });
});

/** Types a question and presses Send one second after the previous press. */
function ask(text: string): ReturnType<ChatState["send"]> {
  clock += 1_000;
  store.getState().setDraft(text);
  return store.getState().send();
}

describe("chat store", () => {
  it("sends the draft with attachments and settings, streams the answer and remembers the session", async () => {
    store.getState().attach(IMAGE);
    store.getState().attach(IMAGE);
    expect(store.getState().attachments).toEqual([IMAGE]);
    expect(ask("  What is shown?  ")).toEqual({ send: true });
    expect(store.getState()).toMatchObject({ draft: "", attachments: [] });
    await untilIdle();

    const [turn] = store.getState().turns;
    expect(turn).toMatchObject({
      status: "done",
      answer: "Answer to What is shown?",
      question: { text: "What is shown?", imageIds: [IMAGE] },
    });
    expect(turn.done).toEqual(DONE);
    expect(store.getState().sessionId).toBe("s-1");
    expect(chatRequests()).toEqual([{ message: { text: "What is shown?", imageIds: [IMAGE] }, ...OPTIONS }]);

    ask("And now?");
    await untilIdle();
    expect(chatRequests()[1]).toEqual({ sessionId: "s-1", message: { text: "And now?" }, ...OPTIONS });
    expect(store.getState().turns.map((t) => t.answer)).toEqual(["Answer to What is shown?", "Answer to And now?"]);
  });

  it("refuses a second send while an answer streams, and presses inside the debounce window", async () => {
    ask("slow one");
    await untilAnswerContains("thinking");
    expect(ask("second")).toEqual({ send: false, reason: "streaming" });
    store.getState().stop();
    await untilIdle();

    expect(ask("quick")).toEqual({ send: true });
    await untilIdle();
    store.getState().setDraft("quick again");
    clock += 100;
    expect(store.getState().send()).toEqual({ send: false, reason: "debounced" });
    expect(store.getState().draft).toBe("quick again");
    expect(chatRequests().map((r) => r.message.text)).toEqual(["slow one", "quick"]);
  });

  it("stops the streaming answer, keeping what arrived", async () => {
    ask("slow story");
    await untilAnswerContains("thinking.");
    store.getState().stop();
    await untilIdle();
    const [turn] = store.getState().turns;
    expect(turn.status).toBe("stopped");
    expect(turn.answer.startsWith("thinking.")).toBe(true);
    expect(turn.error).toBeNull();
  });

  it("shows a burst of tokens in a few updates, ending with every token in order", async () => {
    const shownAnswers: string[] = [];
    const unsubscribe = store.subscribe((state) => {
      const answer = state.turns.at(-1)?.answer ?? "";
      if (answer !== (shownAnswers.at(-1) ?? "")) shownAnswers.push(answer);
    });
    ask("burst");
    await untilIdle();
    unsubscribe();
    const expected = Array.from({ length: BURST_TOKENS }, (_, i) => `t${i} `).join("");
    expect(store.getState().turns[0]).toMatchObject({ status: "done", answer: expected });
    // One update per token would be 300 renders of the growing Markdown; batches arrive every 40 ms at most.
    expect(shownAnswers.length).toBeGreaterThanOrEqual(1);
    expect(shownAnswers.length).toBeLessThanOrEqual(10);
    expect(shownAnswers.every((answer) => expected.startsWith(answer))).toBe(true);
  });

  it("shows an HTTP refusal as a failed turn with a readable message, and reports the failure", async () => {
    ask("busy");
    await untilIdle();
    expect(failures).toBe(1);
    expect(store.getState().turns[0]).toMatchObject({
      status: "failed",
      answer: "",
      error: { code: "rate_limited", message: "Queue is full. Try again in 2 s." },
    });
    expect(store.getState().sessionId).toBeNull();
  });

  it("regenerates the last answer in place as a fresh sample, asking the server to replace that exchange", async () => {
    ask("first");
    await untilIdle();
    ask("second");
    await untilIdle();
    store.getState().regenerate();
    await untilIdle();
    expect(store.getState().turns.map((t) => [t.question.text, t.origin])).toEqual([
      ["first", "asked"],
      ["second", "regenerated"],
    ]);
    expect(chatRequests()[2]).toEqual({
      sessionId: "s-1",
      message: { text: "second" },
      ...REGENERATE_OPTIONS,
      keepTurns: 1,
    });
    expect(failures).toBe(0);
  });

  it("edits the last question: the server replaces that exchange, earlier turns stay", async () => {
    store.getState().attach(IMAGE);
    ask("first");
    await untilIdle();
    ask("second");
    await untilIdle();
    store.getState().editQuestion(store.getState().turns[1].id, "  second, reworded ");
    await untilIdle();
    expect(store.getState().turns.map((t) => [t.question.text, t.origin, t.answer])).toEqual([
      ["first", "asked", "Answer to first"],
      ["second, reworded", "edited", "Answer to second, reworded"],
    ]);
    expect(chatRequests()[2]).toEqual({
      sessionId: "s-1",
      message: { text: "second, reworded" },
      ...OPTIONS,
      keepTurns: 1,
    });
  });

  it("edits the first of three questions: the later turns are replaced, here and on the server", async () => {
    store.getState().attach(IMAGE);
    for (const question of ["first", "second", "third"]) {
      ask(question);
      await untilIdle();
    }
    store.getState().editQuestion(store.getState().turns[0].id, "first, reworded");
    await untilIdle();
    expect(store.getState().turns.map((t) => [t.question, t.origin, t.answer])).toEqual([
      [{ text: "first, reworded", imageIds: [IMAGE] }, "edited", "Answer to first, reworded"],
    ]);
    ask("next");
    await untilIdle();
    expect(chatRequests().slice(3)).toEqual([
      { sessionId: "s-1", message: { text: "first, reworded", imageIds: [IMAGE] }, ...OPTIONS, keepTurns: 0 },
      { sessionId: "s-1", message: { text: "next" }, ...OPTIONS },
    ]);
    expect(store.getState().turns.map((t) => t.meta?.turn)).toEqual([0, 1]);
  });

  it("edits nothing while an answer streams, and no question into an empty one", async () => {
    ask("first");
    await untilIdle();
    const first = store.getState().turns[0].id;
    store.getState().editQuestion(first, " ");
    ask("slow answer");
    await untilAnswerContains("thinking");
    store.getState().editQuestion(first, "first, reworded");
    store.getState().stop();
    await untilIdle();
    expect(chatRequests().map((r) => r.message.text)).toEqual(["first", "slow answer"]);
    expect(store.getState().turns.map((t) => t.question.text)).toEqual(["first", "slow answer"]);
  });

  it("sends an image without text", async () => {
    store.getState().attach(IMAGE);
    expect(ask("")).toEqual({ send: true });
    await untilIdle();
    expect(chatRequests()).toEqual([{ message: { text: "", imageIds: [IMAGE] }, ...OPTIONS }]);
  });

  it("queues a Send pressed while images upload, and sends it with them once they settle", async () => {
    inFlight = 1;
    expect(ask("about the new picture")).toEqual({ send: false, reason: "uploading" });
    expect(store.getState()).toMatchObject({ sendQueued: true, draft: "about the new picture" });
    expect(chatRequests()).toEqual([]);
    inFlight = 0;
    store.getState().attach(IMAGE);
    store.getState().uploadsSettled();
    await untilIdle();
    expect(store.getState().sendQueued).toBe(false);
    expect(chatRequests()).toEqual([{ message: { text: "about the new picture", imageIds: [IMAGE] }, ...OPTIONS }]);
    store.getState().uploadsSettled();
    expect(chatRequests()).toHaveLength(1);
  });

  it("refuses to send while the server cannot answer, keeping the draft", () => {
    unavailable = "No model is loaded on the server.";
    expect(ask("hello")).toEqual({ send: false, reason: "unavailable" });
    expect(store.getState().draft).toBe("hello");
    expect(store.getState().turns).toEqual([]);
  });

  it("regenerates a refused question as a plain resend, since the server never recorded it", async () => {
    ask("busy");
    await untilIdle();
    store.getState().regenerate();
    await untilIdle();
    expect(chatRequests()).toEqual([
      { message: { text: "busy" }, ...OPTIONS },
      { message: { text: "busy" }, ...REGENERATE_OPTIONS },
    ]);
    expect(store.getState().turns).toHaveLength(1);
  });

  it("starts a new chat under a new chatId, clears the transcript and keeps the server's session", async () => {
    ask("hello");
    await untilIdle();
    const before = store.getState().chatId;
    store.getState().attach(IMAGE);
    store.getState().newChat();
    expect(store.getState()).toMatchObject({ sessionId: null, turns: [], attachments: [], draft: "" });
    expect(store.getState().chatId).not.toBe(before);
    ask("again");
    await untilIdle();
    expect(chatRequests().at(-1)).toEqual({ message: { text: "again" }, ...OPTIONS });
    // The history may reopen the old conversation, so its server session is not deleted.
    expect(server.requests.filter((r) => r.method === "DELETE")).toEqual([]);
  });

  it("restores a saved conversation: its follow-up continues the saved session", async () => {
    ask("hello");
    await untilIdle();
    const saved = {
      chatId: store.getState().chatId,
      sessionId: store.getState().sessionId,
      turns: store.getState().turns,
    };
    store.getState().newChat();
    store.getState().setDraft("typed meanwhile");
    store.getState().restore(saved);
    expect(store.getState()).toMatchObject({ ...saved, draft: "typed meanwhile", notice: null });
    ask("follow-up");
    await untilIdle();
    expect(chatRequests().at(-1)).toEqual({ sessionId: saved.sessionId, message: { text: "follow-up" }, ...OPTIONS });
    expect(store.getState().turns.map((turn) => turn.answer)).toEqual(["Answer to hello", "Answer to follow-up"]);
  });

  it("restoring while an answer streams stops that answer", async () => {
    ask("slow one");
    await untilAnswerContains("thinking");
    store.getState().restore({ chatId: "other", sessionId: null, turns: [] });
    // The server keeps writing dots every 10 ms until the page hangs up; none may land in the restored chat.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(store.getState()).toMatchObject({ chatId: "other", sessionId: null, turns: [] });
  });

  it("forgets the session after a server restart, so the next question starts a new one", async () => {
    ask("hello");
    await untilIdle();
    store.getState().forgetSession("The server restarted.");
    expect(store.getState()).toMatchObject({ sessionId: null, notice: "The server restarted." });
    expect(store.getState().turns).toHaveLength(1);
    ask("after restart");
    await untilIdle();
    expect(chatRequests().at(-1)).toEqual({ message: { text: "after restart" }, ...OPTIONS });
    expect(store.getState().notice).toBeNull();
  });
});
