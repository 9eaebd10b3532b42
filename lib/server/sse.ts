/**
 * Server-Sent Events on the wire. vlcache's own stream names each event (`event: meta` + `data: {json}`); the
 * OpenAI-compatible stream sends unnamed `data:` lines ending with `data: [DONE]`. JSON never contains a raw newline,
 * so every event's data fits on one `data:` line.
 */

import type { ChatStreamEvent } from "@/lib/api/types";

export function encodeChatEvent(event: ChatStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export function encodeDataEvent(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

export const DATA_DONE = "data: [DONE]\n\n";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  // Tells nginx-style proxies not to buffer the stream, so each token reaches the client when it is sent.
  "x-accel-buffering": "no",
} as const;

export interface SseResponseOptions {
  readonly headers?: Record<string, string>;
  /**
   * Called at once when the client goes away. The iterator's `return()` also runs then, but only after a pending
   * `next()` settles, so a producer waiting on slow work (a model generating) must be stopped through this.
   */
  readonly onCancel?: () => void;
}

/**
 * A streaming response that pulls encoded events from `events` as the client reads them (back-pressure: a slow client
 * slows the producer, nothing piles up). When the client goes away, `onCancel` runs and then the iterator's
 * `return()`, so a generator's `finally` blocks do their clean-up.
 */
export function sseResponse(events: AsyncIterable<string>, options: SseResponseOptions = {}): Response {
  const iterator = events[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        } catch (error) {
          controller.error(error);
        }
      },
      async cancel() {
        options.onCancel?.();
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...options.headers } });
}
