/**
 * Compute a value at most once across every process that shares a store: in-process single flight, then an
 * owner-checked lock in the store (store/storeLock.ts) that one process holds while it computes and the others wait on.
 * Generic over the value; where the value is looked up and kept (process memory, the store) is the job's business
 * (L1's feature store is the user).
 *
 * Lifecycle of one key, in `run`:
 *   in-process single flight (one resolution per key per process; later callers join it)
 *   → `find()` hit → served
 *   → miss → claim the lock (SET NX with a short TTL and a token unique to this claim; renewed while computing, and
 *       renewed or released only while it still holds that token, so an expired claim never touches a newer one)
 *       claimed: `find()` once more (another process may have just finished), else `computeAndKeep(true)`, unlock
 *       held elsewhere: poll until the lock vanishes (holder done or dead: look again, claim again) or `signal` aborts
 *   → store unreachable: `computeAndKeep(false)` here (counted and logged as a fall-back; see storeFallback.ts)
 *
 * Invariants: within a process a key is never computed twice at once; across processes the lock keeps it to one while
 * the store is up and no holder stalls past the lock's TTL between renewals (one that does loses the lock and finishes
 * anyway: at most one extra computation, never a third one caused by a stale holder deleting the new holder's lock).
 */

import { randomUUID } from "node:crypto";
import { SingleFlight } from "@/lib/cache/singleFlight";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { tryClaimStoreLock } from "@/lib/cache/store/storeLock";
import type { StoreFallback } from "@/lib/cache/storeFallback";

export interface ComputeOnceJob<T> {
  /** The store key of this value's lock. */
  readonly lockKey: string;
  /** The value if it already exists (in process or in the store); null on a miss. Must not compute. */
  find(): Promise<T | null>;
  /** Computes the value and keeps it: in the store too when `shared`, in process only while the store is down. */
  computeAndKeep(shared: boolean): Promise<T>;
  /** Stops waiting on another process's computation. */
  readonly signal?: AbortSignal;
  /**
   * Called when this process's lock expired or vanished while it was computing: finishing is still right, but another
   * process may compute the same value too (worth a warning).
   */
  readonly onLockLost?: () => void;
}

export interface Computed<T> {
  readonly value: T;
  /** True when this call (or the flight it joined) computed the value in this process. */
  readonly computedHere: boolean;
}

export interface ComputeOnceOptions {
  readonly store: BlobStore;
  readonly fallback: StoreFallback;
  readonly lockTtlSeconds: number;
  readonly pollIntervalMs: number;
}

export class ComputeOnce<T> {
  private readonly flights = new SingleFlight<string, Computed<T>>();
  /**
   * Names this process and instance in lock tokens (`<pid>:<instance>:<claim>`), for debugging a stuck lock in
   * redis-cli.
   */
  private readonly owner = `${process.pid}:${randomUUID()}`;

  constructor(private readonly options: ComputeOnceOptions) {}

  /** Whether a `run(key, …)` now would join work already in flight in this process. */
  isRunning(key: string): boolean {
    return this.flights.has(key);
  }

  /**
   * The value of `key`, found or computed once (see the module comment). `settle`, when this call starts the flight,
   * runs inside it — before any joined caller resumes — with the outcome (null on failure).
   */
  run(key: string, job: ComputeOnceJob<T>, settle?: (outcome: Computed<T> | null) => void): Promise<Computed<T>> {
    return this.flights.run(key, async () => {
      try {
        const outcome = await this.resolve(job);
        settle?.(outcome);
        return outcome;
      } catch (error) {
        settle?.(null);
        throw error;
      }
    });
  }

  private async resolve(job: ComputeOnceJob<T>): Promise<Computed<T>> {
    const { store, fallback, lockTtlSeconds } = this.options;
    for (;;) {
      const found = await job.find();
      if (found !== null) return { value: found, computedHere: false };
      if (!fallback.available()) return { value: await job.computeAndKeep(false), computedHere: true };
      const lock = await tryClaimStoreLock(store, job.lockKey, {
        ttlSeconds: lockTtlSeconds,
        owner: this.owner,
        onLost: () => job.onLockLost?.(),
      });
      if (lock !== null) {
        try {
          const fresh = await job.find();
          if (fresh !== null) return { value: fresh, computedHere: false };
          return { value: await job.computeAndKeep(true), computedHere: true };
        } finally {
          await lock.release();
        }
      }
      if (!fallback.available()) return { value: await job.computeAndKeep(false), computedHere: true };
      await this.waitForOtherProcess(job.lockKey, job.signal);
    }
  }

  /**
   * Polls the lock until it is gone — the holder deletes it right after keeping the value, or it expires when the
   * holder died — or the store goes down; the caller then looks again and, finding nothing, claims the lock itself.
   */
  private async waitForOtherProcess(lockKey: string, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, this.options.pollIntervalMs));
      if ((await this.options.store.get(lockKey)) === null) return;
    }
  }
}
