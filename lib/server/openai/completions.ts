/**
 * The OpenAI-compatible routes: POST /v1/chat/completions (streaming or not) and GET /v1/models, over the same
 * pipeline, caches, tenants and limits as /api/chat. Conversations are stateless here, as in OpenAI's API: every
 * request carries its whole history (the prefix cache makes re-sending it cheap).
 */

import "server-only";
import type { ChatMetaEvent } from "@/lib/api/types";
import type { Logger } from "@/lib/log";
import { admitClient } from "@/lib/server/apiGuard";
import { startGeneration, wireCache, type StartedGeneration } from "@/lib/server/generation";
import { readJsonBody } from "@/lib/server/jsonBody";
import { asRequestError, RequestError, refusalHeaders } from "@/lib/server/requestError";
import type { Runtime } from "@/lib/server/runtime";
import { DATA_DONE, encodeDataEvent, sseResponse } from "@/lib/server/sse";
import { parseChatCompletionRequest } from "./request";
import {
  chatCompletion,
  chatCompletionChunk,
  modelList,
  newCompletionIdentity,
  openAIErrorBody,
  usageChunk,
  type CompletionIdentity,
  type OpenAIFinishReason,
  type Usage,
} from "./response";

export async function handleChatCompletions(request: Request, runtime: Runtime): Promise<Response> {
  const log = runtime.logger.child({ module: "openai" });
  try {
    const client = admitClient(request, runtime, { rateLimited: true });
    const body = parseChatCompletionRequest(
      await readJsonBody(request, runtime.config.maxJsonBodyBytes),
      runtime.config,
    );
    const served = runtime.model.ready();
    if (body.model !== served.id) {
      throw new RequestError(
        404,
        "model_not_found",
        `model "${body.model}" is not served here; GET /v1/models lists "${served.id}"`,
      );
    }
    const generation = await startGeneration(
      served.pipeline,
      { ...body.generation, tenant: client.tenant },
      request.signal,
    );
    const identity = newCompletionIdentity(served.id);
    if (body.stream) {
      return sseResponse(streamChunks(generation, identity, body.includeUsage, log), {
        onCancel: () => generation.stop(),
      });
    }
    return Response.json(await collectCompletion(generation, identity), { headers: { "cache-control": "no-store" } });
  } catch (error) {
    return openAIErrorAnswer(error, log);
  }
}

export async function handleListModels(request: Request, runtime: Runtime): Promise<Response> {
  const log = runtime.logger.child({ module: "openai" });
  try {
    admitClient(request, runtime, { rateLimited: false });
    const served = runtime.model.ready();
    return Response.json(modelList([{ id: served.id, created: served.created }]), {
      headers: { "cache-control": "no-store" },
    });
  } catch (error) {
    return openAIErrorAnswer(error, log);
  }
}

async function collectCompletion(generation: StartedGeneration, identity: CompletionIdentity) {
  let text = "";
  let cache: ChatMetaEvent["cache"] | null = null;
  for await (const event of generation.events) {
    if (event.type === "meta") cache = wireCache(event.cache);
    else if (event.type === "token") text += event.text;
    else if (event.finishReason !== "cancelled") {
      return chatCompletion(identity, { text, finishReason: event.finishReason, usage: event.usage, cache });
    }
  }
  // Only a cancelled generation ends without a finish reason, and it is cancelled only when the client has gone.
  throw new RequestError(499, "client_closed_request", "the client closed the request");
}

async function* streamChunks(
  generation: StartedGeneration,
  identity: CompletionIdentity,
  includeUsage: boolean,
  log: Logger,
): AsyncGenerator<string> {
  yield encodeDataEvent(chatCompletionChunk(identity, { role: "assistant", content: "" }));
  let finish: { reason: OpenAIFinishReason; usage: Usage } | null = null;
  try {
    for await (const event of generation.events) {
      if (event.type === "token") yield encodeDataEvent(chatCompletionChunk(identity, { content: event.text }));
      else if (event.type === "done" && event.finishReason !== "cancelled")
        finish = { reason: event.finishReason, usage: event.usage };
    }
  } catch (error) {
    const refusal = asRequestError(error);
    if (!refusal) log.error({ err: error }, "generation failed mid-stream");
    // OpenAI's clients raise an APIError for a `data: {error}` event.
    yield encodeDataEvent(
      refusal
        ? openAIErrorBody(refusal.status, refusal.code, refusal.message)
        : openAIErrorBody(500, "internal_error", "generation failed; see the server log"),
    );
    return;
  }
  if (finish === null) return;
  yield encodeDataEvent(chatCompletionChunk(identity, { finishReason: finish.reason }));
  if (includeUsage) yield encodeDataEvent(usageChunk(identity, finish.usage));
  yield DATA_DONE;
}

/** Like errorAnswer, with the body OpenAI clients parse (`{error: {code, message, type, param}}`). */
function openAIErrorAnswer(error: unknown, log: Logger): Response {
  const refusal = asRequestError(error);
  if (!refusal) log.error({ err: error }, "request failed");
  const status = refusal?.status ?? 500;
  const body = refusal
    ? openAIErrorBody(status, refusal.code, refusal.message)
    : openAIErrorBody(500, "internal_error", "the server failed to handle this request; see its log");
  return Response.json(body, {
    status,
    headers: { "cache-control": "no-store", ...(refusal && refusalHeaders(refusal)) },
  });
}
