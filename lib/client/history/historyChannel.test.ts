import { afterEach, describe, expect, it } from "vitest";
import { chatIdOf, openHistoryChannel, type HistoryChannel } from "./historyChannel";

describe("chatIdOf", () => {
  it("reads the chat a notice names, and nothing from anything else", () => {
    expect(chatIdOf({ chatId: "c-1" })).toBe("c-1");
    for (const notice of [null, undefined, "c-1", 7, {}, { chatId: "" }, { chatId: 7 }, { id: "c-1" }])
      expect(chatIdOf(notice)).toBeNull();
  });
});

describe("openHistoryChannel", () => {
  const opened: HistoryChannel[] = [];
  afterEach(() => opened.splice(0).forEach((channel) => channel.close()));

  it("delivers a notice to every other channel of the name, not back to its sender", async () => {
    const heard: Record<string, string[]> = { a: [], b: [], c: [] };
    for (const tab of ["a", "b", "c"] as const) {
      const channel = openHistoryChannel((chatId) => heard[tab].push(chatId));
      if (channel === null) throw new Error("this Node has no BroadcastChannel");
      opened.push(channel);
    }
    opened[0].announce("chat-1");
    opened[1].announce("chat-2");
    // Two senders: the order between their notices is not promised.
    await expect
      .poll(() => ({ ...heard, c: [...heard.c].sort() }))
      .toEqual({ a: ["chat-2"], b: ["chat-1"], c: ["chat-1", "chat-2"] });
  });
});
