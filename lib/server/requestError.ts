import { InferenceError, QueueFullError } from "@/lib/inference/errors";
import { errorResponse } from "@/lib/server/httpErrors";

/**
 * A request the API refuses, thrown by the orchestration in lib/server and turned into the `{error: {code, message}}`
 * answer at the route's edge. `retryAfterSeconds` becomes a `Retry-After` header (429 and 503 carry one).
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
 */
export function asRequestError(error: unknown): RequestError | null {
  if (error instanceof RequestError) return error;
  if (error instanceof QueueFullError) return new RequestError(503, error.code, error.message, error.retryAfterSeconds);
  if (error instanceof InferenceError) {
    return new RequestError(error.status, error.code, error.message, error.status === 503 ? 2 : undefined);
  }
  return null;
}

export function retryAfterHeaders(error: RequestError): Record<string, string> {
  return error.retryAfterSeconds === undefined ? {} : { "retry-after": String(error.retryAfterSeconds) };
}

export function requestErrorResponse(error: RequestError): Response {
  return errorResponse(error.status, error.code, error.message, retryAfterHeaders(error));
}
