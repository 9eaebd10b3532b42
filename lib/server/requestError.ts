import type { IngestError, IngestErrorCode } from "@/lib/images/ingestErrors";
import type { DecodeBusyError } from "@/lib/images/pixelBudget";
import type { InferenceError, InferenceErrorCode, QueueFullError } from "@/lib/inference/errors";
import type { Logger } from "@/lib/log";
import { errorResponse, httpError } from "@/lib/server/httpErrors";

/**
 * A request the API refuses, thrown by the orchestration in lib/server and turned into the `{error: {code, message}}`
 * answer at the route's edge. `retryAfterSeconds` becomes a `Retry-After` header (429 and 503 carry one); a 401 carries
 * the Bearer challenge.
 */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/**
 * The HTTP status of each refusal the lower layers can report: the one place codes become statuses. The lower layers'
 * errors say only whose fault they are (lib/fault.ts); a request's fault is a 4xx, the server's transient trouble 503.
 */
const INFERENCE_STATUS: Record<InferenceErrorCode, number> = {
  invalid_request: 400,
  image_not_found: 404,
  image_too_large: 413,
  invalid_image: 422,
  unsupported_media_type: 415,
  prompt_too_long: 400,
  too_many_images: 400,
  too_many_pixels: 413,
  store_unavailable: 503,
  decode_busy: 503,
  queue_full: 503,
};

const INGEST_STATUS: Record<IngestErrorCode, 400 | 413 | 415 | 422> = {
  not_multipart: 400,
  malformed_multipart: 400,
  empty_body: 400,
  missing_image: 400,
  empty_image: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid_image: 422,
  too_many_pixels: 422,
};

/** An upload's refusal (lib/images/ingestErrors.ts) as the API answers it. */
export function ingestRefusal(error: IngestError): RequestError {
  return new RequestError(INGEST_STATUS[error.code], error.code, error.message);
}

/**
 * The API's refusal for an error, or null for an unexpected one (a bug or a broken model: the caller logs it and
 * answers 500). The pipeline's refusals keep their code and get their status here; a full queue carries the
 * scheduler's retry hint.
 *
 * Errors are recognised by name, not instanceof: the runtime's objects (the pipeline, the session store) are created by
 * whichever bundle first called getRuntime() — instrumentation's, at start — and Next.js gives every bundle its own
 * copy of each module, so their error classes are not the classes a route imports (see runtime.ts, "Why globalThis").
 */
export function asRequestError(error: unknown): RequestError | null {
  if (!(error instanceof Error)) return null;
  switch (error.name) {
    case "RequestError": {
      const e = error as RequestError;
      return error instanceof RequestError ? error : new RequestError(e.status, e.code, e.message, e.retryAfterSeconds);
    }
    case "QueueFullError": {
      const e = error as QueueFullError;
      return new RequestError(INFERENCE_STATUS[e.code], e.code, e.message, e.retryAfterSeconds);
    }
    case "InferenceError": {
      const e = error as InferenceError;
      const status = INFERENCE_STATUS[e.code];
      return new RequestError(status, e.code, e.message, status === 503 ? 2 : undefined);
    }
    // The store's strict operations (user data): an outage is a retryable 503; a full store stays full until data
    // expires or is deleted, hence 507 and no retry hint.
    case "StoreUnavailableError":
      return new RequestError(
        503,
        "store_unavailable",
        `the store is unreachable right now; retry shortly (${error.message})`,
        STORE_RETRY_SECONDS,
      );
    // The process's decode budget stayed spent (lib/images/pixelBudget.ts): retry once other decodes are done.
    case "DecodeBusyError": {
      const e = error as DecodeBusyError;
      return new RequestError(503, "decode_busy", e.message, e.retryAfterSeconds);
    }
    case "StoreFullError":
      return new RequestError(
        507,
        "store_full",
        `the store's memory budget for images and sessions is spent; nothing was stored (${error.message})`,
      );
    default:
      return null;
  }
}

/** Seconds a client is told to wait after store_unavailable. */
const STORE_RETRY_SECONDS = 2;

/** The headers a refusal carries: Retry-After when it has a retry hint, the Bearer challenge on a 401 (RFC 6750). */
export function refusalHeaders(error: RequestError): Record<string, string> {
  return {
    ...(error.retryAfterSeconds !== undefined && { "retry-after": String(error.retryAfterSeconds) }),
    ...(error.status === 401 && { "www-authenticate": 'Bearer realm="vlcache"' }),
  };
}

export function requestErrorResponse(error: RequestError): Response {
  return errorResponse(error.status, error.code, error.message, refusalHeaders(error));
}

/** The answer to a failed request: its refusal, or 500 for anything unexpected (logged with its stack). */
export function errorAnswer(error: unknown, log: Logger): Response {
  const refusal = asRequestError(error);
  if (refusal) return requestErrorResponse(refusal);
  log.error({ err: error }, "request failed");
  return httpError.internal();
}
