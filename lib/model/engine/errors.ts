/**
 * Typed failures of the engine. A bundle that cannot be loaded names the file and the reason; bad generation input
 * says which argument is wrong. Nothing is half-loaded: a failing `loadEngine` releases the sessions it opened.
 */
export type BundleErrorCode =
  "bundle_missing_file" | "bundle_bad_file" | "bundle_session_failed" | "no_execution_provider";

export class BundleLoadError extends Error {
  constructor(
    readonly code: BundleErrorCode,
    /** The file (or folder) at fault. */
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot load model bundle: ${file}: ${reason}`);
    this.name = "BundleLoadError";
  }
}

export type EngineInputErrorCode =
  "bad_input_ids" | "bad_pixel_values" | "bad_image_grid" | "image_tokens_mismatch" | "bad_past";

export class EngineInputError extends Error {
  constructor(
    readonly code: EngineInputErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "EngineInputError";
  }
}
