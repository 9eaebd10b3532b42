/**
 * Browser client of POST /api/chat: sends the request, reads the `text/event-stream` answer and yields typed events.
 *
 * The stream ends after the first `done` or `error` event. Failures surface as ApiError with a readable message
 * (HTTP errors, network loss, a malformed or truncated stream); `AbortController.abort()` on `signal` (the Stop
 * button) rejects with the platform's AbortError instead, so callers can tell "stopped" from "failed".
 */
import type { ChatRequest, ChatStreamEvent } from "@/lib/api/types";
import { ApiError, apiErrorFromResponse, isAbortError, networkError } from "./apiError";
import { decodeChatEvent } from "./chatEvents";
import { createSseParser } from "./sseParser";

export interface ChatStreamOptions {
  signal?: AbortSignal;
  /** Origin to send to; empty (the default) means the page's own origin. */
  baseUrl?: string;
}

export async function* streamChat(
  request: ChatRequest,
  options: ChatStreamOptions = {},
): AsyncGenerator<ChatStreamEvent> {
  let response: Response;
  try {
    response = await fetch(`${options.baseUrl ?? ""}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify(request),
      signal: options.signal,
    });
  } catch (error) {
    if (isAbortError(error)) throw error;
    throw networkError();
  }
  if (!response.ok) throw await apiErrorFromResponse(response);
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.startsWith("text/event-stream") || response.body === null) {
    await response.body?.cancel();
    throw new ApiError(
      response.status,
      "bad_response",
      `The server answered with ${contentType || "no content type"} instead of an event stream.`,
    );
  }

  const reader = response.body.getReader();
  // `stream: true` keeps a multi-byte UTF-8 character split across network chunks intact.
  const decoder = new TextDecoder();
  const parser = createSseParser();
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (isAbortError(error) || options.signal?.aborted) throw error;
        throw new ApiError(null, "stream_ended", "The connection was lost while the answer was streaming.");
      }
      const text = chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      for (const message of parser.push(text)) {
        const event = decodeChatEvent(message);
        if (event === null) continue;
        yield event;
        if (event.type === "done" || event.type === "error") return;
      }
      if (chunk.done) break;
    }
    parser.end();
    throw new ApiError(null, "stream_ended", "The server closed the connection before the answer was finished.");
  } finally {
    // Leaving early (done/error, a consumer's `break`, or a thrown error) must not leave the response open.
    await reader.cancel().catch(() => undefined);
  }
}
