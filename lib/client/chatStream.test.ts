import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatRequest, ChatStreamEvent } from "@/lib/api/types";
import type { SessionId } from "@/lib/ids";
import { ApiError } from "./apiError";
import { streamChat } from "./chatStream";
import {
  SSE_HEADERS,
  sleep,
  sseMessage as sse,
  startScriptedServer,
  type RecordedRequest,
  type ScriptedServer,
} from "@/tests/support/scriptedServer";

const META = { sessionId: "sess-1", cache: { features: [], prefix: { reused: 0, total: 12 }, response: "miss" } };
const DONE = {
  usage: { promptTokens: 12, completionTokens: 3 },
  timings: { ttftMs: 40, totalMs: 90, tokensPerSecond: 33.3 },
};

/** The question's text picks what the server answers. */
async function answer(request: RecordedRequest, res: ServerResponse): Promise<void> {
  switch ((request.body as ChatRequest).message.text) {
    case "chunked": {
      res.writeHead(200, SSE_HEADERS);
      const stream =
        ": hello\n\n" +
        sse("meta", META) +
        sse("token", { text: "Hé " }) +
        sse("token", { text: "✓" }) +
        sse("done", DONE);
      // 3-byte pieces split "é" (2 bytes) and "✓" (3 bytes) across reads.
      const bytes = Buffer.from(stream, "utf8");
      for (let i = 0; i < bytes.length; i += 3) {
        res.write(bytes.subarray(i, i + 3));
        await sleep(2);
      }
      await sleep(50);
      res.end(sse("token", { text: "after done" }));
      return;
    }
    case "rate-limited":
      res.writeHead(429, { "content-type": "application/json", "retry-after": "5" });
      res.end(JSON.stringify({ error: { code: "rate_limited", message: "Too many requests" } }));
      return;
    case "generation-error":
      res.writeHead(200, SSE_HEADERS);
      res.end(
        sse("meta", META) +
          sse("token", { text: "par" }) +
          sse("error", { code: "engine_failed", message: "ORT failed" }),
      );
      return;
    case "truncated":
      res.writeHead(200, SSE_HEADERS);
      res.end(sse("meta", META) + sse("token", { text: "half" }) + 'event: token\ndata: {"text":');
      return;
    case "malformed":
      res.writeHead(200, SSE_HEADERS);
      res.end(sse("meta", { sessionId: 7 }));
      return;
    case "unknown-event":
      res.writeHead(200, SSE_HEADERS);
      res.end(sse("meta", META) + sse("progress", { step: 1 }) + sse("done", DONE));
      return;
    case "not-sse":
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html></html>");
      return;
    case "slow": {
      res.writeHead(200, SSE_HEADERS);
      res.write(sse("meta", META));
      const timer = setInterval(() => res.write(sse("token", { text: "." })), 10);
      res.on("close", () => clearInterval(timer));
      return;
    }
    default:
      res.writeHead(404).end();
  }
}

let server: ScriptedServer;

async function collect(request: ChatRequest): Promise<ChatStreamEvent[]> {
  const events: ChatStreamEvent[] = [];
  for await (const event of streamChat(request, { baseUrl: server.baseUrl })) events.push(event);
  return events;
}

/**
 * Runs the stream until it fails, returning what it yielded and the failure; `stopAfter` presses Stop after N events.
 */
async function collectUntilFailure(request: ChatRequest, options: { stopAfter?: number; baseUrl?: string } = {}) {
  const events: ChatStreamEvent[] = [];
  const controller = new AbortController();
  try {
    for await (const event of streamChat(request, {
      baseUrl: options.baseUrl ?? server.baseUrl,
      signal: controller.signal,
    })) {
      events.push(event);
      if (events.length === options.stopAfter) controller.abort();
    }
  } catch (error) {
    return { events, error };
  }
  throw new Error(`expected a failure, got ${events.length} events`);
}

beforeAll(async () => {
  server = await startScriptedServer(answer);
});

afterAll(async () => {
  await server.close();
});

describe("streamChat", () => {
  it("posts the request as JSON and decodes events split at arbitrary byte boundaries", async () => {
    const request: ChatRequest = {
      sessionId: "sess-0" as SessionId,
      message: { text: "chunked" },
      params: { maxNewTokens: 8, temperature: 0 },
      cache: { l3: false },
    };
    const events = await collect(request);
    const recorded = server.requests.at(-1);
    expect(recorded).toMatchObject({ method: "POST", url: "/api/chat", body: request });
    expect(recorded?.headers.accept).toBe("text/event-stream");
    expect(recorded?.headers["content-type"]).toBe("application/json");
    expect(events.map((e) => e.type)).toEqual(["meta", "token", "token", "done"]);
    expect(events[0]).toEqual({ type: "meta", data: META });
    const text = events.flatMap((e) => (e.type === "token" ? [e.data.text] : [])).join("");
    expect(text).toBe("Hé ✓");
    expect(events[3]).toEqual({ type: "done", data: DONE });
  });

  it("turns an HTTP error into an ApiError with the server's code and the Retry-After wait", async () => {
    const { events, error } = await collectUntilFailure({ message: { text: "rate-limited" } });
    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 429, code: "rate_limited", retryAfterSeconds: 5 });
    expect((error as ApiError).message).toBe("Too many requests. Try again in 5 s.");
  });

  it("yields an error event and ends the stream there", async () => {
    const events = await collect({ message: { text: "generation-error" } });
    expect(events.map((e) => e.type)).toEqual(["meta", "token", "error"]);
    expect(events[2]).toEqual({ type: "error", data: { code: "engine_failed", message: "ORT failed" } });
  });

  it("reports a stream that ends without done or error, after yielding what was complete", async () => {
    const { events, error } = await collectUntilFailure({ message: { text: "truncated" } });
    expect(events.map((e) => e.type)).toEqual(["meta", "token"]);
    expect(error).toMatchObject({ status: null, code: "stream_ended" });
  });

  it("rejects a known event whose data has the wrong shape", async () => {
    const { error } = await collectUntilFailure({ message: { text: "malformed" } });
    expect(error).toMatchObject({ code: "bad_response" });
    expect((error as Error).message).toContain('malformed "meta" event');
  });

  it("skips event names the contract does not define", async () => {
    const events = await collect({ message: { text: "unknown-event" } });
    expect(events.map((e) => e.type)).toEqual(["meta", "done"]);
  });

  it("rejects a 200 answer that is not an event stream", async () => {
    const { error } = await collectUntilFailure({ message: { text: "not-sse" } });
    expect(error).toMatchObject({ status: 200, code: "bad_response" });
  });

  it("rejects with AbortError when stopped mid-stream", async () => {
    const { events, error } = await collectUntilFailure({ message: { text: "slow" } }, { stopAfter: 3 });
    expect((error as Error).name).toBe("AbortError");
    expect(events.map((e) => e.type)).toEqual(["meta", "token", "token"]);
  });

  it("reports a server that cannot be reached as a network error", async () => {
    const closed = await startScriptedServer(() => undefined);
    await closed.close();
    const { error } = await collectUntilFailure({ message: { text: "x" } }, { baseUrl: closed.baseUrl });
    expect(error).toMatchObject({ status: null, code: "network" });
  });
});
