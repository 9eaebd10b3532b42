import { describe, expect, it } from "vitest";
import type { ChatDoneEvent, ChatMetaEvent } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";
import { applyChatEvent, startTurn, type Turn } from "../chatTranscript";
import {
  parseChatRecord,
  recordRenamed,
  recordWithSnapshot,
  restoredTurns,
  savedTurns,
  snapshotOf,
  type ChatRecord,
} from "./chatRecord";

const image = "c".repeat(64) as ImageId;
const session = "sess-1" as SessionId;
const meta: ChatMetaEvent = {
  sessionId: session,
  cache: { features: [{ imageId: image, source: "computed" }], prefix: { reused: 3, total: 40 }, response: "miss" },
};
const done: ChatDoneEvent = {
  usage: { promptTokens: 40, completionTokens: 2 },
  timings: { ttftMs: 5, totalMs: 9, tokensPerSecond: 50 },
};

const answered = (id: string, text: string, answer: string): Turn =>
  [
    { type: "meta", data: meta } as const,
    { type: "token", data: { text: answer } } as const,
    { type: "done", data: done } as const,
  ].reduce(applyChatEvent, startTurn(id, { text, imageIds: [image] }));
const streaming = (id: string, text: string, answer: string): Turn =>
  applyChatEvent(applyChatEvent(startTurn(id, { text, imageIds: [] }), { type: "meta", data: meta }), {
    type: "token",
    data: { text: answer },
  });

describe("chat record", () => {
  const turns = [answered("turn-1", "What is this?", "A chart."), streaming("turn-2", "And the peak?", "March")];

  it("saves turns without ids, an answer still streaming as stopped with what it had", () => {
    expect(savedTurns(turns)).toEqual([
      {
        question: { text: "What is this?", imageIds: [image] },
        origin: "asked",
        status: "done",
        answer: "A chart.",
        meta,
        done,
        error: null,
      },
      {
        question: { text: "And the peak?", imageIds: [] },
        origin: "asked",
        status: "stopped",
        answer: "March",
        meta,
        done: null,
        error: null,
      },
    ]);
  });

  it("restores turns numbered saved-<i>, apart from the store's turn-<n>", () => {
    const restored = restoredTurns(savedTurns(turns));
    expect(restored.map((turn) => turn.id)).toEqual(["saved-0", "saved-1"]);
    expect(restored[0]).toEqual({ ...turns[0], id: "saved-0" });
    expect(restored[1]).toMatchObject({ status: "stopped", answer: "March" });
  });

  it("creates a record from a snapshot, then replaces its transcript keeping the creation time and the custom title", () => {
    const created = recordWithSnapshot(
      undefined,
      { chatId: "chat-a", sessionId: null, turns: turns.slice(0, 1) },
      1_000,
    );
    expect(created).toEqual({
      version: 1,
      id: "chat-a",
      sessionId: null,
      turns: savedTurns(turns.slice(0, 1)),
      customTitle: null,
      createdAt: 1_000,
      updatedAt: 1_000,
    });

    const renamed = recordRenamed(created, "  Sales   chart ");
    const updated = recordWithSnapshot(renamed, { chatId: "chat-a", sessionId: session, turns }, 5_000);
    expect(updated).toEqual({
      version: 1,
      id: "chat-a",
      sessionId: session,
      turns: savedTurns(turns),
      customTitle: "Sales chart",
      createdAt: 1_000,
      updatedAt: 5_000,
    });
  });

  it("renaming to blank goes back to the automatic title; renaming does not move the chat in the list", () => {
    const record = recordRenamed(
      recordWithSnapshot(undefined, { chatId: "chat-a", sessionId: null, turns }, 1_000),
      "Mine",
    );
    expect(recordRenamed(record, "   ")).toEqual({ ...record, customTitle: null });
    expect(recordRenamed(record, "Other").updatedAt).toBe(1_000);
  });

  it("round-trips through the snapshot the chat store restores", () => {
    const record = recordWithSnapshot(undefined, { chatId: "chat-a", sessionId: session, turns }, 1_000);
    const snapshot = snapshotOf(record);
    expect(snapshot.chatId).toBe("chat-a");
    expect(snapshot.sessionId).toBe(session);
    expect(savedTurns(snapshot.turns)).toEqual(record.turns);
  });

  it("parses what it wrote (after a structured clone) and nothing else", () => {
    const record: ChatRecord = recordWithSnapshot(undefined, { chatId: "chat-a", sessionId: session, turns }, 1_000);
    expect(parseChatRecord(structuredClone(record))).toEqual(record);
    expect(parseChatRecord({ ...record, version: 2 })).toBeNull();
    expect(parseChatRecord({ ...record, id: "" })).toBeNull();
    expect(parseChatRecord({ ...record, turns: [{ ...record.turns[0], status: "streaming" }] })).toBeNull();
    expect(parseChatRecord({ ...record, turns: [{ ...record.turns[0], answer: 7 }] })).toBeNull();
    expect(parseChatRecord("chat-a")).toBeNull();
    expect(parseChatRecord(undefined)).toBeNull();
  });
});
