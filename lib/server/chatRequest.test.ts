import { describe, expect, it } from "vitest";
import { RequestError } from "./requestError";
import { parseChatRequest } from "./chatRequest";

const limits = { maxPromptChars: 20 };
const imageId = "c".repeat(64);
const sessionId = "0f8fad5b-d9cb-469f-a165-70867728950e";

function refusal(body: unknown): { status: number; code: string; message: string } {
  try {
    parseChatRequest(body, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError);
    const { status, code, message } = error as RequestError;
    return { status, code, message };
  }
  throw new Error("the request was accepted");
}

describe("parseChatRequest", () => {
  it("accepts the full contract shape", () => {
    const body = {
      sessionId,
      message: { text: "what is it?", imageIds: [imageId] },
      params: { maxNewTokens: 8, temperature: 0.5, topP: 0.9, topK: 5, seed: 3 },
      cache: { l1: false, l2: true },
      regenerate: true,
    };
    expect(parseChatRequest(body, limits)).toEqual(body);
  });

  it("accepts keepTurns with a session, from 0 up", () => {
    for (const keepTurns of [0, 2])
      expect(parseChatRequest({ sessionId, message: { text: "hi" }, keepTurns }, limits).keepTurns).toBe(keepTurns);
  });

  it("accepts an image without text, and text without images", () => {
    expect(parseChatRequest({ message: { text: "", imageIds: [imageId] } }, limits).message.imageIds).toEqual([
      imageId,
    ]);
    expect(parseChatRequest({ message: { text: "hi" } }, limits)).toEqual({ message: { text: "hi" } });
  });

  it("refuses bad bodies with the field at fault", () => {
    expect(refusal({ message: { text: " " } })).toEqual({
      status: 400,
      code: "invalid_request",
      message: "message: a message needs text or at least one image",
    });
    expect(refusal({ message: { text: "hi" }, regenerate: true })).toMatchObject({
      message: "regenerate: regenerate needs the sessionId of the answer to replace",
    });
    expect(refusal({ message: { text: "hi" }, keepTurns: 1 })).toMatchObject({
      message: "keepTurns: keepTurns needs the sessionId of the conversation to edit",
    });
    expect(refusal({ sessionId, message: { text: "hi" }, keepTurns: 1, regenerate: true })).toMatchObject({
      message: expect.stringMatching(/^keepTurns: send either regenerate .* or keepTurns .*, not both$/),
    });
    for (const keepTurns of [-1, 1.5, "1", null])
      expect(refusal({ sessionId, message: { text: "hi" }, keepTurns })).toMatchObject({
        status: 400,
        code: "invalid_request",
        message: expect.stringMatching(/^keepTurns: /),
      });
    expect(refusal({ message: { text: "hi", imageIds: ["x"] } })).toMatchObject({
      message: "message.imageIds.0: must be an image id (64 lowercase hex characters)",
    });
    expect(refusal({ sessionId: "abc", message: { text: "hi" } })).toMatchObject({
      message: expect.stringMatching(/^sessionId: /),
    });
    expect(refusal({ message: { text: "hi" }, params: { temperature: -1 } })).toMatchObject({
      message: expect.stringMatching(/^params\.temperature: /),
    });
    expect(refusal({ message: { text: "hi" }, params: { maxNewTokens: 0 } })).toMatchObject({
      message: expect.stringMatching(/^params\.maxNewTokens: /),
    });
    expect(refusal({ message: { text: "hi" }, cache: { l4: true } })).toMatchObject({
      message: expect.stringMatching(/^cache: /),
    });
    expect(refusal({ message: { text: "hi" }, stream: true })).toMatchObject({ status: 400, code: "invalid_request" });
    expect(refusal({ message: "hi" })).toMatchObject({ message: expect.stringMatching(/^message: /) });
    expect(refusal(null)).toMatchObject({ status: 400, code: "invalid_request" });
  });

  it("limits the text of a message", () => {
    expect(refusal({ message: { text: "x".repeat(21) } })).toEqual({
      status: 413,
      code: "prompt_too_large",
      message: "message.text has 21 characters, more than the limit of 20 (MAX_PROMPT_CHARS)",
    });
  });
});
