/**
 * Reads the file in multipart field `image` from a request, never holding more than the byte limit in memory.
 *
 * The body may exceed the file limit by `MULTIPART_ALLOWANCE` (boundaries, part headers, other small fields). A larger
 * declared Content-Length is refused before reading anything; a body without one (chunked) is counted as it streams
 * and the stream is cancelled as soon as the count passes the limit. Multipart parsing itself is the platform's
 * (undici's `Response.formData()`), fed through the counting stream.
 */

import { ingestError, type IngestError } from "@/lib/images/ingestErrors";

export const MULTIPART_ALLOWANCE = 64 * 1024;

export type ReadUploadResult = { ok: true; file: Buffer; fileName: string } | { ok: false; error: IngestError };

class BodyLimitExceeded extends Error {}

function byteLimit(maxBytes: number): { stream: TransformStream<Uint8Array, Uint8Array>; counted: () => number } {
  let seen = 0;
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > maxBytes) controller.error(new BodyLimitExceeded());
      else controller.enqueue(chunk);
    },
  });
  return { stream, counted: () => seen };
}

export async function readImageUpload(request: Request, maxFileBytes: number): Promise<ReadUploadResult> {
  const contentType = request.headers.get("content-type");
  if (!contentType || !/^multipart\/form-data\s*;.*boundary=/i.test(contentType)) {
    return { ok: false, error: ingestError.notMultipart(contentType) };
  }
  const maxBodyBytes = maxFileBytes + MULTIPART_ALLOWANCE;
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBodyBytes) return { ok: false, error: ingestError.payloadTooLarge(maxFileBytes) };
  if (declared === 0 || !request.body) return { ok: false, error: ingestError.emptyBody() };

  const limit = byteLimit(maxBodyBytes);
  let form: FormData;
  try {
    form = await new Response(request.body.pipeThrough(limit.stream), {
      headers: { "content-type": contentType },
    }).formData();
  } catch (error) {
    if (error instanceof BodyLimitExceeded) return { ok: false, error: ingestError.payloadTooLarge(maxFileBytes) };
    if (limit.counted() === 0) return { ok: false, error: ingestError.emptyBody() };
    return { ok: false, error: ingestError.malformedMultipart((error as Error).message) };
  }

  const field = form.get("image");
  if (!(field instanceof Blob)) return { ok: false, error: ingestError.missingImage() };
  if (field.size === 0) return { ok: false, error: ingestError.emptyImage() };
  if (field.size > maxFileBytes) return { ok: false, error: ingestError.payloadTooLarge(maxFileBytes) };
  const fileName = field instanceof File ? field.name : "image";
  return { ok: true, file: Buffer.from(await field.arrayBuffer()), fileName };
}
