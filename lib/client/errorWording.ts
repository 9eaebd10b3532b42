/**
 * A failed request in plain words for the conversation. Server messages can carry file paths and system error codes
 * (a model loader's `ENOENT`); the person at the screen gets a sentence, and the exact code and message stay
 * available in a folded details section (`detail`).
 */

export interface PlainError {
  summary: string;
  /** `code: message` exactly as reported. */
  detail: string;
}

const SUMMARY_BY_CODE: Record<string, string> = {
  model_unavailable: "No model is loaded on the server, so it cannot answer.",
  model_loading: "The model is still loading. Try again in a moment.",
  network: "Cannot reach the server. The page keeps checking and says when it is back.",
  stream_ended: "The connection was lost before the answer was finished.",
  store_unavailable: "The server's store is unreachable right now. Try again shortly.",
  queue_full: "The server is busy with other questions. Try again shortly.",
  rate_limited: "Too many requests right now. Try again shortly.",
  session_not_found: "The server no longer has this conversation. Start a new chat.",
};

/** Text that reads as an internal detail: a file path or a system error code. */
const TECHNICAL = /(^|[\s:("'])\/[\w.-]+\/|\b[A-Z]:\\|\bE[A-Z]{3,}\b/;

export function plainError(error: { code: string; message: string }): PlainError {
  const detail = `${error.code}: ${error.message}`;
  const known = SUMMARY_BY_CODE[error.code];
  if (known !== undefined) return { summary: known, detail };
  if (!TECHNICAL.test(error.message)) return { summary: error.message, detail };
  return { summary: "The server could not answer this question.", detail };
}
