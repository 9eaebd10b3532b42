/**
 * What became of the upload-time precomputes this process started (L1, l1Features.ts `precompute`): per feature key,
 * `encoding` from the start until the features are at hand, then `ready` with the time the encode took here (null
 * when another process or the cache had them). Pure bookkeeping, no I/O.
 *
 * The first request served a precomputed image's features reports them as `precomputed` (`claimFirstServe`), later
 * ones as `l1`. The number of states remembered is bounded (oldest forgotten first): a forgotten image is reported
 * from the store instead (l1Features.ts `precomputeState`).
 */

import { ByteLru } from "@/lib/cache/byteLru";

export type PrecomputeState =
  | { readonly status: "encoding"; readonly startedAt: number }
  | { readonly status: "ready"; readonly encodingMs: number | null };

/** Precompute states remembered per process (enough for any gallery). */
const PRECOMPUTE_STATES = 4096;

interface PrecomputeEntry {
  readonly startedAt: number;
  readonly startedMs: number;
  encodingMs: number | null;
  done: boolean;
  served: boolean;
}

export class PrecomputeStatus {
  private readonly entries = new ByteLru<string, PrecomputeEntry>({ maxBytes: PRECOMPUTE_STATES });

  /** Whether a precompute of `key` is running now. */
  isEncoding(key: string): boolean {
    const entry = this.entries.get(key);
    return entry !== undefined && !entry.done;
  }

  /** Records the start of a precompute of `key`; returns the callback that records its end. */
  start(key: string): (outcome: { computedHere: boolean } | null) => void {
    const entry: PrecomputeEntry = {
      startedAt: Date.now(),
      startedMs: performance.now(),
      encodingMs: null,
      done: false,
      served: false,
    };
    this.entries.set(key, entry, 1);
    return (outcome) => {
      entry.encodingMs = outcome?.computedHere ? performance.now() - entry.startedMs : null;
      entry.done = true;
    };
  }

  /** The state of `key`, or null when no precompute of it is remembered. */
  state(key: string): PrecomputeState | null {
    const entry = this.entries.get(key);
    if (entry === undefined) return null;
    return entry.done
      ? { status: "ready", encodingMs: entry.encodingMs }
      : { status: "encoding", startedAt: entry.startedAt };
  }

  /** True exactly once per precompute: for the first request served its features (which reports `precomputed`). */
  claimFirstServe(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.served) return false;
    entry.served = true;
    return true;
  }
}
