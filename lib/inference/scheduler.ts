import { gauge } from "@/lib/metrics/registry";
import { QueueFullError } from "./errors";

/**
 * Admission and fair ordering of generations on one engine (one model's shared ORT sessions).
 *
 * Lifecycle of a request's slot:  admit ─▶ waiting ─▶ running ─▶ released
 *                                            └──────▶ cancelled (signal aborted, or released while waiting)
 * Invariants:
 * - at most `concurrency` slots are running; a slot starts only when one is free;
 * - waiting slots start strictly in admission order (FIFO);
 * - at most `maxQueued` slots wait; admitting one more throws QueueFullError, whose retry hint is the expected time
 *   until the queue has moved by its current length (mean run time so far × runs ahead ÷ concurrency);
 * - a cancelled waiting slot leaves the queue at once, so it never delays the requests behind it;
 * - `vlcache_queue_length` is the number of waiting slots of every scheduler in the process.
 */

const queueLengthGauge = gauge({
  name: "vlcache_queue_length",
  help: "Generation requests waiting for an engine slot.",
});

export const DEFAULT_CONCURRENCY = 1;
export const DEFAULT_MAX_QUEUED = 32;
/** Assumed run time before any run has finished. */
const INITIAL_RUN_SECONDS = 2;
/** Weight of the newest run in the moving mean of run times. */
const RUN_TIME_SMOOTHING = 0.2;

export interface SchedulerOptions {
  /** Generations running at once (default 1: one at a time per engine). */
  readonly concurrency?: number;
  /** Requests allowed to wait (default 32). */
  readonly maxQueued?: number;
  /** Milliseconds; performance.now unless a test drives time. */
  readonly clock?: () => number;
}

export type SlotOutcome = "granted" | "cancelled";

export interface Slot {
  /** Requests that were waiting or running ahead of this one when it was admitted. */
  readonly queuedBehind: number;
  /** Resolves when the slot starts ("granted") or is cancelled while waiting ("cancelled"; it then holds nothing). */
  readonly outcome: Promise<SlotOutcome>;
  /**
   * Ends the slot: frees a running slot for the next waiting one, or takes a waiting one out of the queue. Idempotent.
   */
  release(): void;
}

type SlotState = "waiting" | "running" | "done";

class SchedulerSlot implements Slot {
  state: SlotState = "waiting";
  startedAt = 0;
  readonly outcome: Promise<SlotOutcome>;
  resolve!: (outcome: SlotOutcome) => void;
  detachSignal: () => void = () => {};

  constructor(
    readonly queuedBehind: number,
    private readonly onRelease: (slot: SchedulerSlot) => void,
  ) {
    this.outcome = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  release(): void {
    this.onRelease(this);
  }
}

export class GenerationScheduler {
  readonly concurrency: number;
  readonly maxQueued: number;
  private readonly clock: () => number;
  private readonly waiting: SchedulerSlot[] = [];
  private runningCount = 0;
  private meanRunSeconds = INITIAL_RUN_SECONDS;

  constructor(options: SchedulerOptions = {}) {
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw new RangeError(`concurrency must be an integer ≥ 1, got ${this.concurrency}`);
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 0)
      throw new RangeError(`maxQueued must be an integer ≥ 0, got ${this.maxQueued}`);
    this.clock = options.clock ?? (() => performance.now());
  }

  get queueLength(): number {
    return this.waiting.length;
  }

  get running(): number {
    return this.runningCount;
  }

  /** Seconds until a refused request may find room, as sent in Retry-After (at least 1). */
  retryAfterSeconds(): number {
    const ahead = this.waiting.length + this.runningCount;
    return Math.max(1, Math.ceil((this.meanRunSeconds * ahead) / this.concurrency));
  }

  /**
   * Admits a request: it starts at once when a slot is free and nobody waits, else it waits its turn. Throws
   * QueueFullError when `maxQueued` requests already wait. An aborted `signal` cancels a waiting slot; a running slot
   * is ended by its owner calling `release()`.
   */
  admit(signal?: AbortSignal): Slot {
    const queuedBehind = this.waiting.length + this.runningCount;
    const slot = new SchedulerSlot(queuedBehind, (s) => this.end(s));
    if (signal?.aborted) {
      slot.state = "done";
      slot.resolve("cancelled");
      return slot;
    }
    if (this.runningCount < this.concurrency && this.waiting.length === 0) {
      this.start(slot);
      return slot;
    }
    if (this.waiting.length >= this.maxQueued) throw new QueueFullError(this.waiting.length, this.retryAfterSeconds());
    this.waiting.push(slot);
    queueLengthGauge.inc();
    if (signal) {
      const onAbort = () => this.end(slot);
      signal.addEventListener("abort", onAbort, { once: true });
      slot.detachSignal = () => signal.removeEventListener("abort", onAbort);
    }
    return slot;
  }

  private end(slot: SchedulerSlot): void {
    if (slot.state === "done") return;
    const wasRunning = slot.state === "running";
    slot.detachSignal();
    slot.state = "done";
    if (wasRunning) {
      this.runningCount--;
      const seconds = (this.clock() - slot.startedAt) / 1000;
      this.meanRunSeconds += RUN_TIME_SMOOTHING * (seconds - this.meanRunSeconds);
      this.startNext();
      return;
    }
    const index = this.waiting.indexOf(slot);
    if (index !== -1) {
      this.waiting.splice(index, 1);
      queueLengthGauge.dec();
    }
    slot.resolve("cancelled");
  }

  private start(slot: SchedulerSlot): void {
    slot.detachSignal();
    slot.state = "running";
    slot.startedAt = this.clock();
    this.runningCount++;
    slot.resolve("granted");
  }

  private startNext(): void {
    while (this.runningCount < this.concurrency && this.waiting.length > 0) {
      const next = this.waiting.shift() as SchedulerSlot;
      queueLengthGauge.dec();
      this.start(next);
    }
  }
}
