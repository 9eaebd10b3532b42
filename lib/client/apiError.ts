/**
 * One error type for everything that can go wrong between the browser and the API, carrying a message written for
 * the person at the screen. HTTP failures keep their status and the server's error code; failures without an HTTP
 * answer (network down, malformed stream) have `status: null` and a client-side code.
 */
import type { ApiErrorBody } from "@/lib/api/types";

export type ClientErrorCode = "network" | "bad_response" | "stream_ended";

export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    /** HTTP status, or null when no HTTP answer was involved. */
    readonly status: number | null,
    /** The server's `error.code`, or a ClientErrorCode. */
    readonly code: string,
    message: string,
    /** From `Retry-After` (429/503): whole seconds to wait before trying again. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

/**
 * `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). Returns whole seconds from `nowMs`,
 * rounded up and never negative, or null when the header is absent or unreadable.
 */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  // Date.parse also accepts bare numbers such as "-5" (as a year); an HTTP date always names its weekday and month.
  const dateMs = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(dateMs)) return null;
  return Math.max(0, Math.ceil((dateMs - nowMs) / 1000));
}

function readErrorBody(bodyText: string): ApiErrorBody["error"] | null {
  try {
    const body: unknown = JSON.parse(bodyText);
    if (typeof body !== "object" || body === null || !("error" in body)) return null;
    const error: unknown = body.error;
    if (typeof error !== "object" || error === null) return null;
    if (!("code" in error) || !("message" in error)) return null;
    if (typeof error.code !== "string" || typeof error.message !== "string") return null;
    return { code: error.code, message: error.message };
  } catch {
    return null;
  }
}

function asSentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function fallbackMessage(status: number, statusText: string): string {
  const label = `${status}${statusText ? ` ${statusText}` : ""}`;
  if (status === 429) return "Too many requests right now.";
  if (status === 503) return "The server is not ready yet.";
  if (status >= 500) return `The server failed (${label}).`;
  return `The request was rejected (${label}).`;
}

export interface HttpFailure {
  status: number;
  statusText: string;
  bodyText: string;
  retryAfterHeader: string | null;
  nowMs: number;
}

/** Turns a non-2xx answer into an ApiError whose message can be shown as is. */
export function describeHttpFailure(failure: HttpFailure): ApiError {
  const body = readErrorBody(failure.bodyText);
  const retryAfterSeconds = parseRetryAfter(failure.retryAfterHeader, failure.nowMs);
  const base = asSentence(body?.message || fallbackMessage(failure.status, failure.statusText));
  const retry = retryAfterSeconds === null ? "" : ` Try again in ${Math.max(1, retryAfterSeconds)} s.`;
  return new ApiError(failure.status, body?.code ?? `http_${failure.status}`, base + retry, retryAfterSeconds);
}

export async function apiErrorFromResponse(response: Response): Promise<ApiError> {
  const bodyText = await response.text().catch(() => "");
  return describeHttpFailure({
    status: response.status,
    statusText: response.statusText,
    bodyText,
    retryAfterHeader: response.headers.get("retry-after"),
    nowMs: Date.now(),
  });
}

export function networkError(): ApiError {
  return new ApiError(null, "network", "Cannot reach the server. The page keeps trying to reconnect.");
}

/** True for the rejection fetch and stream reads produce after `AbortController.abort()`. */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}
