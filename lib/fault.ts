/**
 * Whose fault a failure is: the request's (it asks for something malformed or impossible; sent again unchanged it
 * fails again) or the server's (its bundle, store or code). Errors of the lower layers (lib/model, lib/images,
 * lib/text, lib/inference) say this and carry a stable code; they never name an HTTP status — only
 * lib/server/requestError.ts turns an error into one.
 */
export type Fault = "request" | "server";

/**
 * An error of a lower layer: a stable `code` from its family's list, and the fault that code implies (one table per
 * family, so a code's fault is decided once).
 */
export abstract class FaultError<Code extends string> extends Error {
  readonly fault: Fault;
  protected constructor(
    readonly code: Code,
    message: string,
    faultOf: Readonly<Record<Code, Fault>>,
  ) {
    super(message);
    this.fault = faultOf[code];
  }
}
