import { describe, expect, it } from "vitest";
import type { ChatDoneEvent, ChatMetaEvent } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";
import { applyChatEvent, failTurn, reachedServerSession, startTurn, stopTurn, type Turn } from "./chatTranscript";

const image = "a".repeat(64) as ImageId;
const meta = (sessionId: string): ChatMetaEvent => ({
  sessionId: sessionId as SessionId,
  cache: { features: [{ imageId: image, source: "l1" }], prefix: { reused: 0, total: 20 }, response: "miss" },
});
const done: ChatDoneEvent = {
  usage: { promptTokens: 20, completionTokens: 2 },
  timings: { ttftMs: 5, totalMs: 9, tokensPerSecond: 50 },
};

function play(turn: Turn, ...steps: ((t: Turn) => Turn)[]): Turn {
  return steps.reduce((t, step) => step(t), turn);
}

describe("chat transcript", () => {
  const fresh = startTurn("t1", { text: "What is this?", imageIds: [image] });

  it("starts waiting with an empty answer", () => {
    expect(fresh).toEqual({
      id: "t1",
      question: { text: "What is this?", imageIds: [image] },
      origin: "asked",
      status: "waiting",
      answer: "",
      meta: null,
      done: null,
      error: null,
    });
  });

  it("streams tokens into the answer and ends done", () => {
    const turn = play(
      fresh,
      (t) => applyChatEvent(t, { type: "meta", data: meta("s1") }),
      (t) => applyChatEvent(t, { type: "token", data: { text: "A " } }),
      (t) => applyChatEvent(t, { type: "token", data: { text: "cat." } }),
      (t) => applyChatEvent(t, { type: "done", data: done }),
    );
    expect(turn).toMatchObject({ status: "done", answer: "A cat.", meta: meta("s1"), done, error: null });
  });

  it("keeps the partial answer when generation fails mid-stream", () => {
    const turn = play(
      fresh,
      (t) => applyChatEvent(t, { type: "meta", data: meta("s1") }),
      (t) => applyChatEvent(t, { type: "token", data: { text: "A " } }),
      (t) => applyChatEvent(t, { type: "error", data: { code: "engine_failed", message: "boom" } }),
    );
    expect(turn).toMatchObject({ status: "failed", answer: "A ", error: { code: "engine_failed", message: "boom" } });
  });

  it("ignores events and later endings once a turn has ended", () => {
    const stopped = play(
      fresh,
      (t) => applyChatEvent(t, { type: "token", data: { text: "A" } }),
      stopTurn,
      (t) => applyChatEvent(t, { type: "token", data: { text: "B" } }),
      (t) => failTurn(t, { code: "network", message: "lost" }),
    );
    expect(stopped).toMatchObject({ status: "stopped", answer: "A", error: null });
  });

  it("knows which turns reached the server's session", () => {
    const refused = failTurn(fresh, { code: "rate_limited", message: "busy" });
    const answered = applyChatEvent(startTurn("t2", { text: "q", imageIds: [] }), { type: "meta", data: meta("s7") });
    expect(reachedServerSession(refused)).toBe(false);
    expect(reachedServerSession(answered)).toBe(true);
  });
});
