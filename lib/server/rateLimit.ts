/**
 * Per-client rate limit: one token bucket per client key (an API key or a client address, see clientIdentity.ts).
 *
 * A bucket holds at most `burst` tokens and gains `perMinute / 60` tokens per second; each request takes one. A request
 * that finds less than one token is refused with the seconds until one token will be there (the Retry-After). Pure:
 * time comes in as an argument, nothing here does I/O.
 *
 * Memory: a bucket that has refilled completely is indistinguishable from a new one, so buckets idle for longer than a
 * full refill are dropped (checked every `SWEEP_EVERY` takes); the map holds only clients seen within that time.
 */
export interface RateLimitSettings {
  /** Tokens added per minute; 0 switches the limit off. */
  readonly perMinute: number;
  /** Bucket size: requests a quiet client may send at once. */
  readonly burst: number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  /** Milliseconds (the caller's clock) when `tokens` was last brought up to date. */
  updatedAt: number;
}

const SWEEP_EVERY = 1024;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly tokensPerMs: number;
  private takesSinceSweep = 0;

  constructor(readonly settings: RateLimitSettings) {
    if (!Number.isFinite(settings.perMinute) || settings.perMinute < 0)
      throw new RangeError(`perMinute must be ≥ 0, got ${settings.perMinute}`);
    if (!Number.isInteger(settings.burst) || settings.burst < 1)
      throw new RangeError(`burst must be an integer ≥ 1, got ${settings.burst}`);
    this.tokensPerMs = settings.perMinute / 60_000;
  }

  get enabled(): boolean {
    return this.settings.perMinute > 0;
  }

  /** Number of clients with a bucket that is not full. */
  get trackedClients(): number {
    return this.buckets.size;
  }

  /** Takes one token from `client`'s bucket at time `nowMs` (monotonic milliseconds). */
  take(client: string, nowMs: number): RateDecision {
    if (!this.enabled) return { allowed: true };
    if (++this.takesSinceSweep >= SWEEP_EVERY) this.sweep(nowMs);
    const bucket = this.buckets.get(client) ?? { tokens: this.settings.burst, updatedAt: nowMs };
    this.refill(bucket, nowMs);
    this.buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return this.refusal(bucket);
  }

  /** What `take` would answer for `client` at `nowMs`, taking nothing. */
  peek(client: string, nowMs: number): RateDecision {
    const bucket = this.buckets.get(client);
    if (!this.enabled || bucket === undefined) return { allowed: true };
    this.refill(bucket, nowMs);
    return bucket.tokens >= 1 ? { allowed: true } : this.refusal(bucket);
  }

  private refusal(bucket: Bucket): RateDecision {
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.tokensPerMs / 1000)) };
  }

  private refill(bucket: Bucket, nowMs: number): void {
    // A clock that steps back (it should not, but a caller may pass Date.now) gives no tokens and takes none.
    const elapsed = Math.max(0, nowMs - bucket.updatedAt);
    bucket.tokens = Math.min(this.settings.burst, bucket.tokens + elapsed * this.tokensPerMs);
    bucket.updatedAt = Math.max(bucket.updatedAt, nowMs);
  }

  /** Drops the buckets that would be full by now. */
  private sweep(nowMs: number): void {
    this.takesSinceSweep = 0;
    for (const [client, bucket] of this.buckets) {
      this.refill(bucket, nowMs);
      if (bucket.tokens >= this.settings.burst) this.buckets.delete(client);
    }
  }
}
