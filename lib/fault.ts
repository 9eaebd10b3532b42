/**
 * Whose fault a failure is: the request's (it asks for something malformed or impossible; sent again unchanged it
 * fails again) or the server's (its bundle, store or code). Errors of the lower layers (lib/model, lib/images,
 * lib/text, lib/inference) say this and carry a stable code; they never name an HTTP status — only
 * lib/server/requestError.ts turns an error into one.
 */
export type Fault = "request" | "server";
