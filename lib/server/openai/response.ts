/**
 * vlcache's answers in the shapes of the OpenAI Chat Completions API (`chat.completion`, `chat.completion.chunk`,
 * `list` of `model`, and `{error}`). Pure builders; the route streams or returns them.
 *
 * Extension: a non-streaming completion carries `vlcache: {cache}` (the same report as /api/chat's `meta`, without the
 * session id), which OpenAI clients ignore.
 */

import { randomBytes } from "node:crypto";
import type { ChatMetaEvent } from "@/lib/api/types";
import type { FinishReason } from "@/lib/inference/events";

export interface CompletionIdentity {
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
}

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** A finished generation's reason; vlcache's `stop` and `length` mean what OpenAI's do. */
export type OpenAIFinishReason = Exclude<FinishReason, "cancelled">;

export function newCompletionIdentity(model: string, nowMs = Date.now()): CompletionIdentity {
  return { id: `chatcmpl-${randomBytes(12).toString("hex")}`, created: Math.floor(nowMs / 1000), model };
}

function usageOf(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

export function chatCompletion(
  identity: CompletionIdentity,
  answer: { text: string; finishReason: OpenAIFinishReason; usage: Usage; cache: ChatMetaEvent["cache"] | null },
) {
  return {
    id: identity.id,
    object: "chat.completion" as const,
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant" as const, content: answer.text, refusal: null },
        logprobs: null,
        finish_reason: answer.finishReason,
      },
    ],
    usage: usageOf(answer.usage),
    vlcache: { cache: answer.cache },
  };
}

/** One streamed piece: the first carries the role, the last (with empty delta) the finish reason. */
export function chatCompletionChunk(
  identity: CompletionIdentity,
  piece: { role?: "assistant"; content?: string; finishReason?: OpenAIFinishReason },
) {
  return {
    id: identity.id,
    object: "chat.completion.chunk" as const,
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        delta: {
          ...(piece.role && { role: piece.role }),
          ...(piece.content !== undefined && { content: piece.content }),
        },
        logprobs: null,
        finish_reason: piece.finishReason ?? null,
      },
    ],
  };
}

/** With `stream_options.include_usage`: the chunk after the last choice, with no choices and the usage. */
export function usageChunk(identity: CompletionIdentity, usage: Usage) {
  return {
    id: identity.id,
    object: "chat.completion.chunk" as const,
    created: identity.created,
    model: identity.model,
    choices: [],
    usage: usageOf(usage),
  };
}

export function modelList(models: readonly { id: string; created: number }[]) {
  return {
    object: "list" as const,
    data: models.map((m) => ({ id: m.id, object: "model" as const, created: m.created, owned_by: "vlcache" })),
  };
}

/** OpenAI's error `type` for a status; the body keeps vlcache's `{error: {code, message}}` and adds `type`, `param`. */
export function openAIErrorBody(status: number, code: string, message: string) {
  const type =
    status === 401
      ? "authentication_error"
      : status === 429
        ? "rate_limit_error"
        : status >= 500
          ? "server_error"
          : "invalid_request_error";
  return { error: { code, message, type, param: null } };
}
