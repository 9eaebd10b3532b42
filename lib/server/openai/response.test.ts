import { describe, expect, it } from "vitest";
import type { ImageId } from "@/lib/ids";
import {
  chatCompletion,
  chatCompletionChunk,
  modelList,
  newCompletionIdentity,
  openAIErrorBody,
  usageChunk,
} from "./response";

const identity = { id: "chatcmpl-1", created: 1_700_000_000, model: "tiny" };
const usage = { promptTokens: 10, completionTokens: 3 };

describe("OpenAI response shapes", () => {
  it("makes ids and Unix-second timestamps", () => {
    const a = newCompletionIdentity("tiny", 1_700_000_000_999);
    expect(a).toMatchObject({ created: 1_700_000_000, model: "tiny" });
    expect(a.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(newCompletionIdentity("tiny").id).not.toBe(a.id);
  });

  it("builds a completion with usage and the cache report", () => {
    const cache = {
      features: [{ imageId: "a".repeat(64) as ImageId, source: "l1" as const }],
      prefix: { reused: 4, total: 10 },
      response: "miss" as const,
    };
    expect(chatCompletion(identity, { text: "hi", finishReason: "length", usage, cache })).toEqual({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "tiny",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "hi", refusal: null },
          logprobs: null,
          finish_reason: "length",
        },
      ],
      usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
      vlcache: { cache },
    });
  });

  it("builds stream chunks: role first, content, finish reason last, then usage", () => {
    expect(chatCompletionChunk(identity, { role: "assistant", content: "" }).choices).toEqual([
      { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
    ]);
    expect(chatCompletionChunk(identity, { content: "a" }).choices[0].delta).toEqual({ content: "a" });
    expect(chatCompletionChunk(identity, { finishReason: "stop" })).toEqual({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1_700_000_000,
      model: "tiny",
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }],
    });
    expect(usageChunk(identity, usage)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
    });
  });

  it("lists models and types errors by status", () => {
    expect(modelList([{ id: "tiny", created: 5 }])).toEqual({
      object: "list",
      data: [{ id: "tiny", object: "model", created: 5, owned_by: "vlcache" }],
    });
    expect(openAIErrorBody(400, "invalid_request", "bad")).toEqual({
      error: { code: "invalid_request", message: "bad", type: "invalid_request_error", param: null },
    });
    expect(openAIErrorBody(401, "invalid_api_key", "x").error.type).toBe("authentication_error");
    expect(openAIErrorBody(429, "rate_limited", "x").error.type).toBe("rate_limit_error");
    expect(openAIErrorBody(503, "queue_full", "x").error.type).toBe("server_error");
  });
});
