import { describe, expect, it } from "vitest";
import { RequestError } from "@/lib/server/requestError";
import { imagePart, parseChatCompletionRequest } from "./request";

const limits = { maxPromptChars: 1000 };
const id = "ab".repeat(32);
const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

function refusal(body: unknown, max = limits): { status: number; code: string; message: string } {
  try {
    parseChatCompletionRequest(body, max);
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError);
    const { status, code, message } = error as RequestError;
    return { status, code, message };
  }
  throw new Error("the request was accepted");
}

describe("parseChatCompletionRequest", () => {
  it("translates messages with text, a data-URL image and an uploaded image id", () => {
    const parsed = parseChatCompletionRequest(
      {
        model: "m",
        messages: [
          { role: "developer", content: "be brief" },
          {
            role: "user",
            content: [
              { type: "text", text: "compare" },
              {
                type: "image_url",
                image_url: { url: `data:image/png;base64,${png.toString("base64")}`, detail: "auto" },
              },
              { type: "image_url", image_url: id },
            ],
          },
          { role: "assistant", content: null },
        ],
      },
      limits,
    );
    expect(parsed).toEqual({
      model: "m",
      stream: false,
      includeUsage: false,
      generation: {
        messages: [
          { role: "system", content: "be brief" },
          {
            role: "user",
            content: [
              { type: "text", text: "compare" },
              { type: "image", bytes: new Uint8Array(png) },
              { type: "image", imageId: id },
            ],
          },
          { role: "assistant", content: "" },
        ],
      },
    });
  });

  it("maps sampling and length fields, preferring max_completion_tokens", () => {
    const parsed = parseChatCompletionRequest(
      {
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 5,
        max_completion_tokens: 7,
        temperature: 0.7,
        top_p: 0.9,
        top_k: 20,
        seed: 42,
        stop: "END",
        n: 1,
        user: "someone",
        tools: [],
      },
      limits,
    );
    expect(parsed.stream).toBe(true);
    expect(parsed.includeUsage).toBe(true);
    expect(parsed.generation).toEqual({
      messages: [{ role: "user", content: "hi" }],
      maxNewTokens: 7,
      temperature: 0.7,
      topP: 0.9,
      topK: 20,
      seed: 42,
      stop: ["END"],
    });
  });

  it("leaves omitted and null fields to the pipeline's defaults", () => {
    const parsed = parseChatCompletionRequest(
      { model: "m", messages: [{ role: "user", content: "hi" }], temperature: null, max_tokens: null },
      limits,
    );
    expect(parsed.generation).toEqual({ messages: [{ role: "user", content: "hi" }] });
  });

  it("refuses what it would otherwise have to ignore", () => {
    const base = { model: "m", messages: [{ role: "user", content: "hi" }] };
    expect(refusal({ ...base, n: 2 })).toMatchObject({
      status: 400,
      code: "invalid_request",
      message: "n: n other than 1 is not supported by this server",
    });
    expect(refusal({ ...base, tools: [{ type: "function" }] })).toMatchObject({
      message: "tools: tools is not supported by this server",
    });
    expect(refusal({ ...base, logprobs: true })).toMatchObject({ code: "invalid_request" });
    expect(refusal({ ...base, response_format: { type: "json_object" } })).toMatchObject({ code: "invalid_request" });
    expect(refusal({ ...base, presence_penalty: 0.5 })).toMatchObject({ code: "invalid_request" });
  });

  it("names the field at fault", () => {
    expect(refusal({ model: "m", messages: [] })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^messages: /),
    });
    expect(refusal({ model: "m", messages: [{ role: "tool", content: "x" }] })).toMatchObject({
      message: expect.stringMatching(/^messages\.0\.role: /),
    });
    expect(refusal({ model: "m", messages: [{ role: "user", content: "x" }], temperature: 3 })).toMatchObject({
      message: expect.stringMatching(/^temperature: /),
    });
    expect(refusal({ messages: [{ role: "user", content: "x" }] })).toMatchObject({
      message: expect.stringMatching(/^model: /),
    });
    expect(refusal([])).toMatchObject({ status: 400, code: "invalid_request" });
  });

  it("refuses remote and malformed image URLs", () => {
    const withUrl = (url: string) => ({
      model: "m",
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }],
    });
    expect(refusal(withUrl("https://example.com/cat.png"))).toMatchObject({
      status: 400,
      code: "unsupported_image_url",
      message: expect.stringMatching(/^messages\.0\.content\.0\.image_url: /),
    });
    expect(refusal(withUrl("data:image/png;base64,@@@"))).toMatchObject({ code: "invalid_image_url" });
    expect(refusal(withUrl("data:image/png;base64,"))).toMatchObject({ code: "invalid_image_url" });
    expect(refusal(withUrl("data:text/plain;base64,aGk="))).toMatchObject({ code: "unsupported_image_url" });
  });

  it("limits the total text of the messages", () => {
    const body = {
      model: "m",
      messages: [
        { role: "system", content: "x".repeat(6) },
        { role: "user", content: [{ type: "text", text: "y".repeat(5) }] },
      ],
    };
    expect(refusal(body, { maxPromptChars: 10 })).toMatchObject({ status: 413, code: "prompt_too_large" });
    expect(parseChatCompletionRequest(body, { maxPromptChars: 11 }).generation.messages).toHaveLength(2);
  });
});

describe("imagePart", () => {
  it("accepts data URLs with parameters and line breaks in the base64", () => {
    const b64 = png.toString("base64");
    const url = `data:image/png;name=x.png;base64,${b64.slice(0, 4)}\n${b64.slice(4)}`;
    expect(imagePart(url)).toEqual({ type: "image", bytes: new Uint8Array(png) });
  });
});
