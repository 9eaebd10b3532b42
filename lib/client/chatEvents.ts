/**
 * Decodes the SSE messages of POST /api/chat into the typed ChatStreamEvent union. The JSON of each known event is
 * checked against its shape, so a server that drifts from the contract fails loudly here instead of rendering
 * `undefined` somewhere in the page. zod/mini keeps this cheap in the client bundle.
 */
import * as z from "zod/mini";
import type { ImageId, SessionId } from "@/lib/ids";
import type { ChatStreamEvent } from "@/lib/api/types";
import { ApiError } from "./apiError";
import type { SseMessage } from "./sseParser";

const count = z.number().check(z.nonnegative());

export const metaSchema = z.object({
  sessionId: z.string(),
  // Optional: transcripts the browser saved before the server sent it (the server always does now).
  turn: z.optional(z.int().check(z.nonnegative())),
  cache: z.object({
    features: z.array(z.object({ imageId: z.string(), source: z.enum(["precomputed", "l1", "computed"]) })),
    prefix: z.object({ reused: count, total: count, tier: z.optional(z.enum(["memory", "store"])) }),
    response: z.enum(["hit", "miss", "bypass"]),
  }),
});

const tokenSchema = z.object({ text: z.string() });

export const doneSchema = z.object({
  usage: z.object({ promptTokens: count, completionTokens: count }),
  timings: z.object({ ttftMs: count, totalMs: count, tokensPerSecond: count }),
});

export const errorSchema = z.object({ code: z.string(), message: z.string() });

function parse<T>(schema: z.ZodMiniType<T>, message: SseMessage): T {
  let json: unknown;
  try {
    json = JSON.parse(message.data);
  } catch {
    throw badEvent(message, "its data is not JSON");
  }
  const result = schema.safeParse(json);
  if (!result.success) throw badEvent(message, z.prettifyError(result.error));
  return result.data;
}

function badEvent(message: SseMessage, why: string): ApiError {
  return new ApiError(null, "bad_response", `The server sent a malformed "${message.event}" event: ${why}`);
}

/**
 * Returns the typed event, or null for event names the contract does not define (ignored, so the server may add
 * events later). Throws ApiError `bad_response` when a known event's data does not match its shape.
 */
export function decodeChatEvent(message: SseMessage): ChatStreamEvent | null {
  switch (message.event) {
    case "meta": {
      const meta = parse(metaSchema, message);
      // Ids are opaque to the client: it only sends back what the server named.
      return {
        type: "meta",
        data: {
          sessionId: meta.sessionId as SessionId,
          ...(meta.turn === undefined ? {} : { turn: meta.turn }),
          cache: {
            ...meta.cache,
            features: meta.cache.features.map((f) => ({ imageId: f.imageId as ImageId, source: f.source })),
          },
        },
      };
    }
    case "token":
      return { type: "token", data: parse(tokenSchema, message) };
    case "done":
      return { type: "done", data: parse(doneSchema, message) };
    case "error":
      return { type: "error", data: parse(errorSchema, message) };
    default:
      return null;
  }
}
