/**
 * The throttle on wrong API keys, per client address (not per key: a guesser tries many keys): each refused key takes
 * a token from the address's bucket of `perMinute` tokens, refilled at `perMinute` a minute (rateLimit.ts). While the
 * bucket is empty, keys from that address are refused before they are checked, so a right key cannot be found by
 * trying more meanwhile. A right key takes nothing and gives nothing back: it does not reset the count of the wrong
 * ones around it. Pure: time comes in as an argument, nothing here does I/O.
 */

import { RateLimiter, type RateDecision } from "./rateLimit";

export class FailedKeyThrottle {
  private readonly refusedKeys: RateLimiter;

  /** `perMinute`: refused keys an address may present per minute (and at once); 0 switches the throttle off. */
  constructor(perMinute: number) {
    this.refusedKeys = new RateLimiter({ perMinute, burst: Math.max(1, perMinute) });
  }

  /** Whether a key from `address` may be checked at `nowMs` (monotonic milliseconds); if not, for how long. */
  admits(address: string, nowMs: number): RateDecision {
    return this.refusedKeys.peek(address, nowMs);
  }

  /** Counts a key from `address` that was checked and refused. */
  recordRefusal(address: string, nowMs: number): void {
    this.refusedKeys.take(address, nowMs);
  }
}
