import { RequestError } from "./requestError";

/**
 * Reads a request's JSON body, never holding more than `maxBytes`: a larger declared Content-Length is refused before
 * reading, and a streamed (chunked) body is cancelled as soon as it passes the limit. The Content-Type is not checked,
 * so `curl -d '{…}'` works without a header.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () =>
    new RequestError(
      413,
      "payload_too_large",
      `the request body is larger than ${maxBytes} bytes (MAX_JSON_BODY_BYTES)`,
    );
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge();

  const chunks: Uint8Array[] = [];
  let received = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  if (received === 0) throw new RequestError(400, "empty_body", "the request body is empty; send a JSON object");
  try {
    return JSON.parse(Buffer.concat(chunks, received).toString("utf8"));
  } catch (error) {
    throw new RequestError(400, "invalid_json", `the request body is not valid JSON: ${(error as Error).message}`);
  }
}
