/**
 * Why a generation request was refused. Every refusal happens BEFORE any model compute (no vision encode, no prefill)
 * and changes nothing: no queue slot is held, no cache is read or written past the L3 look-up.
 *
 * `code` is what the API puts in `{error: {code, message}}`; `status` is the HTTP status it maps to. A bundle that
 * cannot be loaded is not an InferenceError: it surfaces as the engine's BundleLoadError (file + reason) from
 * `loadInferenceModel`.
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

const STATUS: Record<InferenceErrorCode, number> = {
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

export class InferenceError extends Error {
  readonly status: number;
  constructor(
    readonly code: InferenceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "InferenceError";
    this.status = STATUS[code];
  }
}

/** The engine's wait queue is full. The API answers 503 with `Retry-After: retryAfterSeconds`. */
export class QueueFullError extends InferenceError {
  constructor(
    readonly queueLength: number,
    readonly retryAfterSeconds: number,
  ) {
    super("queue_full", `the model is busy: ${queueLength} requests are already waiting; retry in about ${retryAfterSeconds} s`);
    this.name = "QueueFullError";
  }
}
