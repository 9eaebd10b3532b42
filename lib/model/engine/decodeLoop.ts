import type { StepResult } from "./decoderSteps";
import { kvCapacity, releaseKvCache, type KvCache } from "./kvCache";
import type { KvPadding } from "./kvPadding";

/** What the loop needs of the engine: one decode step. */
export interface DecodeStepper {
  decodeStep(token: number, past: KvCache, ropeDelta: number): Promise<StepResult>;
}

/**
 * The one token-by-token decoding loop after a prefill, shared by greedy generation (Engine.generate) and the serving
 * pipeline (lib/inference/generationRun.ts), which differ only in how they choose a token and when they stop.
 *
 * It holds the current step — the logits to choose the next token from and the KV cache they came with — and owns
 * exactly that one cache (kvCache.ts ownership rule): `feed` runs the next step and releases the cache it supersedes,
 * also when the step fails; `takeKv` hands the current cache to the caller (to store as a prefix, say) and ends the
 * loop; `release` drops it. After `takeKv` or `release` the loop holds nothing and refuses further use, so the caller
 * needs only `release()` in a `finally` to leave no KV behind, whatever happened.
 *
 * With `padding` (kvPadding.ts) the current cache may be padded: `feed` pads a full cache to the next capacity
 * before its step (the padded copy is the loop's, released once the step has run: the step returns new tensors), and
 * `takeKv` trims it, so what leaves the loop is always exact.
 */
export class DecodeLoop {
  private step: StepResult | null;

  constructor(
    private readonly engine: DecodeStepper,
    /** The prompt's M-RoPE delta (decoderSteps.decodeStep). */
    private readonly ropeDelta: number,
    first: StepResult,
    private readonly padding: KvPadding | null = null,
  ) {
    this.step = first;
  }

  /** [V] logits of the last position run: what the next token is chosen from. */
  get logits(): Float32Array {
    return this.current().logits;
  }

  /** Positions the current KV cache covers (the prompt and every token fed so far). */
  get length(): number {
    return this.current().kv.length;
  }

  /** Runs `token` through the decoder; its logits and KV become the current step. */
  async feed(token: number): Promise<void> {
    const previous = this.current();
    this.step = null;
    let padded: KvCache | null = null;
    try {
      const full = kvCapacity(previous.kv) <= previous.kv.length;
      if (this.padding && full) {
        padded = await this.padding.pad(previous.kv, this.padding.capacityFor(previous.kv.length));
      }
      this.step = await this.engine.decodeStep(token, padded ?? previous.kv, this.ropeDelta);
    } finally {
      releaseKvCache(previous.kv);
      if (padded) releaseKvCache(padded);
    }
  }

  /** The current KV cache, exact (capacity = length), now the caller's; the loop ends. */
  async takeKv(): Promise<KvCache> {
    const { kv } = this.current();
    this.step = null;
    // Only a loop with padding ever holds a padded cache.
    if (this.padding === null || kvCapacity(kv) === kv.length) return kv;
    try {
      return await this.padding.trim(kv);
    } finally {
      releaseKvCache(kv);
    }
  }

  /** Releases the current KV cache, if the loop still holds one (idempotent). */
  release(): void {
    if (this.step) releaseKvCache(this.step.kv);
    this.step = null;
  }

  private current(): StepResult {
    if (this.step === null) throw new Error("DecodeLoop: used after takeKv, release or a failed step");
    return this.step;
  }
}
