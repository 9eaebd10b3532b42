import { describe, expect, it } from "vitest";
import { readJsonBody } from "./jsonBody";
import { RequestError } from "./requestError";

const post = (body: BodyInit | null, headers: Record<string, string> = {}) =>
  new Request("http://x/api", {
    method: "POST",
    body,
    headers,
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);

async function refusal(request: Request, maxBytes: number): Promise<Pick<RequestError, "status" | "code">> {
  try {
    await readJsonBody(request, maxBytes);
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError);
    const { status, code } = error as RequestError;
    return { status, code };
  }
  throw new Error("readJsonBody accepted the body");
}

function chunked(parts: string[]): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulled === parts.length) return controller.close();
        controller.enqueue(new TextEncoder().encode(parts[pulled++]));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => pulled };
}

describe("readJsonBody", () => {
  it("parses a JSON body, whatever its content type", async () => {
    expect(
      await readJsonBody(post('{"a":[1,"é"]}', { "content-type": "application/x-www-form-urlencoded" }), 100),
    ).toEqual({ a: [1, "é"] });
  });

  it("parses a chunked body within the limit", async () => {
    expect(await readJsonBody(post(chunked(['{"a"', ":", "2}"]).stream), 7)).toEqual({ a: 2 });
  });

  it("refuses a declared Content-Length over the limit without reading the body", async () => {
    const body = chunked(['{"a":1}']);
    const request = post(body.stream, { "content-length": "1000" });
    expect(await refusal(request, 999)).toEqual({ status: 413, code: "payload_too_large" });
    expect(body.pulled()).toBe(0);
  });

  it("stops reading a streamed body as soon as it passes the limit", async () => {
    const body = chunked(['{"a":"', "x".repeat(60), "x".repeat(60), "x".repeat(60), '"}']);
    expect(await refusal(post(body.stream), 100)).toEqual({ status: 413, code: "payload_too_large" });
    // 6 + 60 + 60 bytes pass the limit with the third chunk; the last two are never pulled.
    expect(body.pulled()).toBe(3);
  });

  it("refuses empty and malformed bodies", async () => {
    expect(await refusal(post(null), 100)).toEqual({ status: 400, code: "empty_body" });
    expect(await refusal(post(""), 100)).toEqual({ status: 400, code: "empty_body" });
    expect(await refusal(post("{not json"), 100)).toEqual({ status: 400, code: "invalid_json" });
  });
});
