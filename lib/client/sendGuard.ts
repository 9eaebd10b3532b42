/**
 * Decides whether pressing Send (or Enter) sends the question now.
 *
 * The debounce is leading-edge: the first press sends at once and every press within `debounceMs` of the previous
 * press is swallowed, so a double click or a held Enter key sends once, and a deliberate press never waits.
 * Invariant: at most one answer streams at a time — a press while one streams is refused, whatever the timing.
 * Order of refusals: streaming, server unavailable, images still uploading, nothing to send, debounce.
 */

export type SendRefusal = "empty" | "streaming" | "debounced" | "unavailable" | "uploading";

export type SendDecision = { send: true } | { send: false; reason: SendRefusal };

export interface SendAttempt {
  text: string;
  /** Images attached to the question: a question may be an image alone. */
  imageCount: number;
  /** Images still uploading: the press is refused as "uploading" (the caller queues it until they settle). */
  uploading: number;
  /** Why the server cannot answer now (no model, not responding), or null when it can. */
  unavailable: string | null;
  streaming: boolean;
  now: number;
  /** When the previous press that counted happened (sent or debounced), or null before the first. */
  lastPressAt: number | null;
  debounceMs: number;
}

export interface SendGuardResult {
  decision: SendDecision;
  /** What to remember as `lastPressAt` for the next attempt. */
  lastPressAt: number | null;
}

export function guardSend(attempt: SendAttempt): SendGuardResult {
  if (attempt.streaming) return { decision: { send: false, reason: "streaming" }, lastPressAt: attempt.lastPressAt };
  if (attempt.unavailable !== null)
    return { decision: { send: false, reason: "unavailable" }, lastPressAt: attempt.lastPressAt };
  if (attempt.uploading > 0) return { decision: { send: false, reason: "uploading" }, lastPressAt: attempt.now };
  if (attempt.text.trim() === "" && attempt.imageCount === 0)
    return { decision: { send: false, reason: "empty" }, lastPressAt: attempt.lastPressAt };
  if (attempt.lastPressAt !== null && attempt.now - attempt.lastPressAt < attempt.debounceMs) {
    // Swallowed presses extend the window: a burst of presses sends exactly once.
    return { decision: { send: false, reason: "debounced" }, lastPressAt: attempt.now };
  }
  return { decision: { send: true }, lastPressAt: attempt.now };
}
