import { describe, expect, it } from "vitest";
import type { SessionId } from "@/lib/ids";
import { DATA_DONE, encodeChatEvent, encodeDataEvent, sseResponse } from "./sse";

describe("SSE encoding", () => {
  it("names vlcache events and keeps each one on a single data line", () => {
    expect(encodeChatEvent({ type: "token", data: { text: "a\nb" } })).toBe('event: token\ndata: {"text":"a\\nb"}\n\n');
    const meta = encodeChatEvent({
      type: "meta",
      data: {
        sessionId: "s1" as SessionId,
        cache: { features: [], prefix: { reused: 0, total: 9 }, response: "miss" },
      },
    });
    expect(meta.split("\n")).toEqual([
      "event: meta",
      'data: {"sessionId":"s1","cache":{"features":[],"prefix":{"reused":0,"total":9},"response":"miss"}}',
      "",
      "",
    ]);
  });

  it("writes OpenAI-style unnamed data events and the [DONE] marker", () => {
    expect(encodeDataEvent({ id: "x" }) + DATA_DONE).toBe('data: {"id":"x"}\n\ndata: [DONE]\n\n');
  });
});

describe("sseResponse", () => {
  it("streams the events with event-stream headers", async () => {
    async function* events() {
      yield "event: a\ndata: 1\n\n";
      yield "event: b\ndata: 2\n\n";
    }
    const response = sseResponse(events(), { headers: { "x-extra": "1" } });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(response.headers.get("x-extra")).toBe("1");
    expect(await response.text()).toBe("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n");
  });

  it("produces only what the client reads, and cleans up when it leaves", async () => {
    const produced: number[] = [];
    let cleanedUp = false;
    let cancelled = false;
    async function* events() {
      try {
        for (let i = 0; ; i++) {
          produced.push(i);
          yield `data: ${i}\n\n`;
        }
      } finally {
        cleanedUp = true;
      }
    }
    const response = sseResponse(events(), { onCancel: () => (cancelled = true) });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: 0\n\n");
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: 1\n\n");
    await reader.cancel();
    expect({ produced, cleanedUp, cancelled }).toEqual({ produced: [0, 1], cleanedUp: true, cancelled: true });
  });

  it("ends the stream with an error when the producer throws", async () => {
    async function* events(): AsyncGenerator<string> {
      yield "data: 0\n\n";
      throw new Error("engine failed");
    }
    const reader = sseResponse(events()).body!.getReader();
    await reader.read();
    await expect(reader.read()).rejects.toThrow("engine failed");
  });
});
