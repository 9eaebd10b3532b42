import { describe, expect, it } from "vitest";
import { startTurn } from "../chatTranscript";
import { recordRenamed, recordWithSnapshot } from "./chatRecord";
import { orderChats, summarize, withChat, withoutChat, type ChatSummary } from "./chatList";

const entry = (id: string, updatedAt: number): ChatSummary => ({ id, title: id, questionCount: 1, updatedAt });

describe("chat list", () => {
  it("summarizes a record by its title, question count and last activity", () => {
    const turns = [
      startTurn("turn-1", { text: "First?", imageIds: [] }),
      startTurn("turn-2", { text: "Second?", imageIds: [] }),
    ];
    const record = recordWithSnapshot(undefined, { chatId: "chat-a", sessionId: null, turns }, 7_000);
    expect(summarize(record)).toEqual({ id: "chat-a", title: "First?", questionCount: 2, updatedAt: 7_000 });
    expect(summarize(recordRenamed(record, "Mine")).title).toBe("Mine");
  });

  it("orders newest activity first, equal times by id, whatever order it was read in", () => {
    const chats = [entry("b", 5), entry("c", 9), entry("a", 5), entry("d", 1)];
    expect(orderChats(chats).map((chat) => chat.id)).toEqual(["c", "a", "b", "d"]);
    expect(orderChats([...chats].reverse())).toEqual(orderChats(chats));
    expect(chats.map((chat) => chat.id)).toEqual(["b", "c", "a", "d"]);
  });

  it("adds a chat in order, or replaces the entry with its id", () => {
    const list = orderChats([entry("a", 5), entry("b", 3)]);
    expect(withChat(list, entry("c", 4)).map((chat) => chat.id)).toEqual(["a", "c", "b"]);
    expect(withChat(list, { ...entry("b", 8), title: "renamed" })).toEqual([
      { ...entry("b", 8), title: "renamed" },
      entry("a", 5),
    ]);
  });

  it("removes a chat by id and leaves the rest in order", () => {
    const list = orderChats([entry("a", 5), entry("b", 3), entry("c", 1)]);
    expect(withoutChat(list, "b")).toEqual([entry("a", 5), entry("c", 1)]);
    expect(withoutChat(list, "missing")).toEqual(list);
  });
});
