import type { InferenceError, QueueFullError } from "@/lib/inference/errors";
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
 * The API's refusal for an error, or null for an unexpected one (a bug or a broken model: the caller logs it and
 * answers 500). The pipeline's refusals keep their code and status; a full queue carries the scheduler's retry hint.
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
      return new RequestError(503, e.code, e.message, e.retryAfterSeconds);
    }
    case "InferenceError": {
      const e = error as InferenceError;
      return new RequestError(e.status, e.code, e.message, e.status === 503 ? 2 : undefined);
    }
    default:
      return null;
  }
}

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
