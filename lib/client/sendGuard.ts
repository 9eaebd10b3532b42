/**
 * Decides whether pressing Send (or Enter) sends the question now.
 *
 * The debounce is leading-edge: the first press sends at once and every press within `debounceMs` of the previous
 * press is swallowed, so a double click or a held Enter key sends once, and a deliberate press never waits.
 * Invariant: at most one answer streams at a time — a press while one streams is refused, whatever the timing.
 */

export type SendRefusal = "empty" | "streaming" | "debounced";

export type SendDecision = { send: true } | { send: false; reason: SendRefusal };

export interface SendAttempt {
  text: string;
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
  if (attempt.text.trim() === "") return { decision: { send: false, reason: "empty" }, lastPressAt: attempt.lastPressAt };
  if (attempt.lastPressAt !== null && attempt.now - attempt.lastPressAt < attempt.debounceMs) {
    // Swallowed presses extend the window: a burst of presses sends exactly once.
    return { decision: { send: false, reason: "debounced" }, lastPressAt: attempt.now };
  }
  return { decision: { send: true }, lastPressAt: attempt.now };
}
