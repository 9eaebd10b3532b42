import { FaultError, type Fault } from "@/lib/fault";

/**
 * Why a generation request was refused. Every refusal happens BEFORE any model compute (no vision encode, no prefill)
 * and changes nothing: no queue slot is held, no cache is read or written past the L3 look-up.
 *
 * `code` is what the API puts in `{error: {code, message}}` (lib/server/requestError.ts maps it to an HTTP status);
 * `fault` says whose fault it is: the request's, or the server's for a store outage or a full queue (both pass: a
 * retry may succeed). A bundle that cannot be loaded is not an InferenceError: it surfaces as the engine's
 * BundleLoadError (file + reason) from `loadInferenceModel`.
 */

export type InferenceErrorCode =
  | "invalid_request"
  | "image_not_found"
  | "image_too_large"
  | "invalid_image"
  | "unsupported_media_type"
  | "prompt_too_long"
  | "too_many_images"
  | "too_many_pixels"
  | "store_unavailable"
  | "decode_busy"
  | "queue_full";

const FAULT: Record<InferenceErrorCode, Fault> = {
  invalid_request: "request",
  image_not_found: "request",
  image_too_large: "request",
  invalid_image: "request",
  unsupported_media_type: "request",
  prompt_too_long: "request",
  too_many_images: "request",
  too_many_pixels: "request",
  store_unavailable: "server",
  decode_busy: "server",
  queue_full: "server",
};

export class InferenceError extends FaultError<InferenceErrorCode> {
  constructor(code: InferenceErrorCode, message: string) {
    super(code, message, FAULT);
    this.name = "InferenceError";
  }
}

/** The engine's wait queue is full; the API tells the client to retry after `retryAfterSeconds`. */
export class QueueFullError extends InferenceError {
  constructor(
    readonly queueLength: number,
    readonly retryAfterSeconds: number,
  ) {
    super(
      "queue_full",
      `the model is busy: ${queueLength} requests are already waiting; retry in about ${retryAfterSeconds} s`,
    );
    this.name = "QueueFullError";
  }
}
