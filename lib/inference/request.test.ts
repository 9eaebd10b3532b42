import { describe, expect, it } from "vitest";
import { InferenceError } from "./errors";
import { DEFAULT_MAX_NEW_TOKENS, parseGenerationRequest } from "./request";

const IMAGE_ID = "a".repeat(64);
const user = (content: unknown) => ({ messages: [{ role: "user", content }] });

function refusal(input: unknown): InferenceError {
  try {
    parseGenerationRequest(input);
  } catch (error) {
    if (error instanceof InferenceError) return error;
    throw error;
  }
  throw new Error("the request was accepted");
}

describe("parseGenerationRequest", () => {
  it("fills in greedy decoding, the token budget, no stop strings, every cache level and the public tenant", () => {
    const request = parseGenerationRequest(user("Hi"));
    expect(request).toEqual({
      messages: [{ role: "user", content: "Hi" }],
      maxNewTokens: DEFAULT_MAX_NEW_TOKENS,
      temperature: 0,
      topK: 0,
      topP: 1,
      repetitionPenalty: 1,
      stop: [],
      cache: { l1: true, l2: true, l3: true },
      tenant: "public",
    });
  });

  it("accepts images by id and as bytes, sampling parameters, stop strings, cache switches and a signal", () => {
    const signal = new AbortController().signal;
    const bytes = new Uint8Array([137, 80, 78, 71]);
    const request = parseGenerationRequest({
      ...user([
        { type: "image", imageId: IMAGE_ID },
        { type: "image", bytes },
        { type: "text", text: "Compare." },
      ]),
      maxNewTokens: 12,
      temperature: 0.7,
      topK: 20,
      topP: 0.8,
      repetitionPenalty: 1.1,
      seed: 42,
      stop: ["\n\n"],
      cache: { l2: false },
      tenant: "team-a",
      signal,
    });
    expect(request.messages[0].content).toEqual([
      { type: "image", imageId: IMAGE_ID },
      { type: "image", bytes },
      { type: "text", text: "Compare." },
    ]);
    expect(request).toMatchObject({
      maxNewTokens: 12,
      temperature: 0.7,
      topK: 20,
      topP: 0.8,
      repetitionPenalty: 1.1,
      seed: 42,
      stop: ["\n\n"],
    });
    expect(request.cache).toEqual({ l1: true, l2: false, l3: true });
    expect(request.tenant).toBe("team-a");
    expect(request.signal).toBe(signal);
  });

  it.each([
    ["no messages", { messages: [] }, "messages"],
    ["an unknown role", { messages: [{ role: "tool", content: "x" }] }, "messages.0.role"],
    ["a malformed image id", user([{ type: "image", imageId: "xyz" }]), "messages.0.content.0.imageId"],
    ["empty image bytes", user([{ type: "image", bytes: new Uint8Array(0) }]), "messages.0.content.0.bytes"],
    [
      "an image with both id and bytes",
      user([{ type: "image", imageId: IMAGE_ID, bytes: new Uint8Array(1) }]),
      "messages.0.content",
    ],
    ["maxNewTokens 0", { ...user("Hi"), maxNewTokens: 0 }, "maxNewTokens"],
    ["a fractional maxNewTokens", { ...user("Hi"), maxNewTokens: 2.5 }, "maxNewTokens"],
    ["a negative temperature", { ...user("Hi"), temperature: -1 }, "temperature"],
    ["topP above 1", { ...user("Hi"), topP: 1.5 }, "topP"],
    ["a negative seed", { ...user("Hi"), seed: -3 }, "seed"],
    ["an empty stop string", { ...user("Hi"), stop: [""] }, "stop.0"],
    ["a bad tenant", { ...user("Hi"), tenant: "Team A" }, "tenant"],
    ["an unknown field", { ...user("Hi"), beamWidth: 4 }, "request"],
  ])("refuses %s as invalid_request naming the field", (_name, input, field) => {
    const error = refusal(input);
    expect(error.code).toBe("invalid_request");
    expect(error.fault).toBe("request");
    expect(error.message.startsWith(`${field}:`)).toBe(true);
  });
});
