import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatRequest, ChatStreamEvent } from "@/lib/api/types";
import type { SessionId } from "@/lib/ids";
import { ApiError } from "./apiError";
import { streamChat } from "./chatStream";

/**
 * A real HTTP server speaking the /api/chat wire format; the question's text picks what it answers, so each test
 * exercises the client against actual sockets, chunking and aborts.
 */
const received: { body: ChatRequest; accept: string | undefined }[] = [];
let server: Server;
let baseUrl: string;

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const META = { sessionId: "sess-1", cache: { features: [], prefix: { reused: 0, total: 12 }, response: "miss" } };
const DONE = { usage: { promptTokens: 12, completionTokens: 3 }, timings: { ttftMs: 40, totalMs: 90, tokensPerSecond: 33.3 } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function writeInPieces(res: ServerResponse, bytes: Buffer, pieceSize: number): Promise<void> {
  for (let i = 0; i < bytes.length; i += pieceSize) {
    res.write(bytes.subarray(i, i + pieceSize));
    await sleep(2);
  }
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let raw = "";
  for await (const piece of req) raw += piece;
  const body = JSON.parse(raw) as ChatRequest;
  received.push({ body, accept: req.headers.accept });
  const streamHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
  switch (body.message.text) {
    case "chunked": {
      res.writeHead(200, streamHeaders);
      const stream = ": hello\n\n" + sse("meta", META) + sse("token", { text: "Hé " }) + sse("token", { text: "✓" }) + sse("done", DONE);
      // 3-byte pieces split "é" (2 bytes) and "✓" (3 bytes) across reads.
      await writeInPieces(res, Buffer.from(stream, "utf8"), 3);
      await sleep(50);
      res.end(sse("token", { text: "after done" }));
      return;
    }
    case "rate-limited":
      res.writeHead(429, { "content-type": "application/json", "retry-after": "5" });
      res.end(JSON.stringify({ error: { code: "rate_limited", message: "Too many requests" } }));
      return;
    case "generation-error":
      res.writeHead(200, streamHeaders);
      res.end(sse("meta", META) + sse("token", { text: "par" }) + sse("error", { code: "engine_failed", message: "ORT failed" }));
      return;
    case "truncated":
      res.writeHead(200, streamHeaders);
      res.end(sse("meta", META) + sse("token", { text: "half" }) + 'event: token\ndata: {"text":');
      return;
    case "malformed":
      res.writeHead(200, streamHeaders);
      res.end(sse("meta", { sessionId: 7 }));
      return;
    case "unknown-event":
      res.writeHead(200, streamHeaders);
      res.end(sse("meta", META) + sse("progress", { step: 1 }) + sse("done", DONE));
      return;
    case "not-sse":
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html></html>");
      return;
    case "slow": {
      res.writeHead(200, streamHeaders);
      res.write(sse("meta", META));
      const timer = setInterval(() => res.write(sse("token", { text: "." })), 10);
      res.on("close", () => clearInterval(timer));
      return;
    }
    default:
      res.writeHead(404).end();
  }
}

async function collect(request: ChatRequest, signal?: AbortSignal): Promise<ChatStreamEvent[]> {
  const events: ChatStreamEvent[] = [];
  for await (const event of streamChat(request, { baseUrl, signal })) events.push(event);
  return events;
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  server = createServer((req, res) => void answer(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
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
    expect(received.at(-1)).toEqual({ body: request, accept: "text/event-stream" });
    expect(events.map((e) => e.type)).toEqual(["meta", "token", "token", "done"]);
    expect(events[0]).toEqual({ type: "meta", data: META });
    const text = events.flatMap((e) => (e.type === "token" ? [e.data.text] : [])).join("");
    expect(text).toBe("Hé ✓");
    expect(events[3]).toEqual({ type: "done", data: DONE });
  });

  it("turns an HTTP error into an ApiError with the server's code and the Retry-After wait", async () => {
    const error = await failureOf(collect({ message: { text: "rate-limited" } }));
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
    const events: ChatStreamEvent[] = [];
    const error = await failureOf(
      (async () => {
        for await (const event of streamChat({ message: { text: "truncated" } }, { baseUrl })) events.push(event);
      })(),
    );
    expect(events.map((e) => e.type)).toEqual(["meta", "token"]);
    expect(error).toMatchObject({ status: null, code: "stream_ended" });
  });

  it("rejects a known event whose data has the wrong shape", async () => {
    const error = await failureOf(collect({ message: { text: "malformed" } }));
    expect(error).toMatchObject({ code: "bad_response" });
    expect((error as Error).message).toContain('malformed "meta" event');
  });

  it("skips event names the contract does not define", async () => {
    const events = await collect({ message: { text: "unknown-event" } });
    expect(events.map((e) => e.type)).toEqual(["meta", "done"]);
  });

  it("rejects a 200 answer that is not an event stream", async () => {
    const error = await failureOf(collect({ message: { text: "not-sse" } }));
    expect(error).toMatchObject({ status: 200, code: "bad_response" });
  });

  it("rejects with AbortError when stopped mid-stream", async () => {
    const controller = new AbortController();
    const events: ChatStreamEvent[] = [];
    const error = await failureOf(
      (async () => {
        for await (const event of streamChat({ message: { text: "slow" } }, { baseUrl, signal: controller.signal })) {
          events.push(event);
          if (events.length === 3) controller.abort();
        }
      })(),
    );
    expect((error as Error).name).toBe("AbortError");
    expect(events.slice(0, 3).map((e) => e.type)).toEqual(["meta", "token", "token"]);
  });

  it("reports a server that cannot be reached as a network error", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failureOf(
      (async () => {
        for await (const event of streamChat({ message: { text: "x" } }, { baseUrl: `http://127.0.0.1:${port}` })) void event;
      })(),
    );
    expect(error).toMatchObject({ status: null, code: "network" });
  });
});
