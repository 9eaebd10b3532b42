import { describe, expect, it } from "vitest";
import type { ChatDoneEvent, ChatMetaEvent } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";
import { applyChatEvent, failTurn, keptServerTurns, startTurn, stopTurn, type Turn } from "./chatTranscript";

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

  it("finds how many of the session's turns an edit keeps: up to the first replaced turn the session recorded", () => {
    const answered = (id: string, sessionId: string, turn?: number) =>
      applyChatEvent(startTurn(id, { text: id, imageIds: [] }), {
        type: "meta",
        data: { ...meta(sessionId), ...(turn === undefined ? {} : { turn }) },
      });
    const refused = failTurn(startTurn("refused", { text: "r", imageIds: [] }), {
      code: "rate_limited",
      message: "busy",
    });
    const session = "s7" as SessionId;
    // The second answer's save failed (the server numbered the next turn 1 again); a question was refused.
    const turns = [answered("a", "s7", 0), answered("b", "s7", 1), refused, answered("c", "s7", 1)];
    expect(keptServerTurns(turns, 0, session)).toBe(0);
    expect(keptServerTurns(turns, 1, session)).toBe(1);
    expect(keptServerTurns(turns, 2, session)).toBe(1);
    expect(keptServerTurns(turns, 3, session)).toBe(1);
    expect(keptServerTurns(turns, 4, session)).toBeNull();
    expect(keptServerTurns([...turns.slice(0, 2), refused], 2, session)).toBeNull();
    // Turns of an earlier session (the server restarted) are not in this one.
    expect(keptServerTurns([answered("old", "s1", 0), answered("new", "s7", 0)], 0, session)).toBe(0);
    expect(keptServerTurns([answered("new", "s7", 0), answered("old", "s1", 3)], 1, session)).toBeNull();
    // Saved before meta carried the turn: counted.
    expect(keptServerTurns([answered("a", "s7"), refused, answered("b", "s7")], 2, session)).toBe(1);
  });
});
