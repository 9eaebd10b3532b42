import { randomUUID } from "node:crypto";
import type { BlobStore } from "./blobStore";

/**
 * A lock in the shared store, held by at most one claim at a time across every process on that store (BlobStore's
 * lock contract): claimed with SET NX + TTL under a token unique to the claim, renewed every TTL/3 while held, renewed
 * and released only while the key still holds that token. A holder that dies stops renewing, so its lock expires
 * within its TTL; a holder whose lock expired anyway (a pause longer than the TTL, a Redis restart) learns it through
 * `onLost` and never touches the claim another process has made since.
 */
export interface StoreLockOptions {
  readonly ttlSeconds: number;
  /** Names the process in the token (`<owner>:<claim>`), for finding the holder of a stuck lock with redis-cli. */
  readonly owner: string;
  /** Called once when a renewal finds the store reachable but the key no longer ours; renewing stops then. */
  readonly onLost?: () => void;
}

export interface HeldStoreLock {
  /** Stops renewing and deletes the key if it still holds this claim's token. Idempotent. */
  release(): Promise<void>;
}

/** Claims `key` when nobody holds it; null when another claim holds it (or the store is unreachable). */
export async function tryClaimStoreLock(store: BlobStore, key: string, options: StoreLockOptions): Promise<HeldStoreLock | null> {
  const token = Buffer.from(`${options.owner}:${randomUUID()}`);
  if (!(await store.setIfAbsent(key, token, options.ttlSeconds))) return null;
  const renewal = setInterval(() => {
    void store.renewIfValue(key, token, options.ttlSeconds).then((renewed) => {
      // Unreachable store: keep trying, the claim may still stand once it is back.
      if (renewed || !store.isHealthy()) return;
      clearInterval(renewal);
      options.onLost?.();
    });
  }, (options.ttlSeconds * 1000) / 3);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(renewal);
      await store.deleteIfValue(key, token);
    },
  };
}
