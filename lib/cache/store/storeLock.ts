import { randomUUID } from "node:crypto";
import { isStoreFull, isStoreUnavailable, type BlobStore } from "./blobStore";

/**
 * A lock in the shared store, held by at most one claim at a time across every process on that store (BlobStore's
 * lock contract): claimed with SET NX + TTL under a token unique to the claim, renewed every TTL/3 while held, renewed
 * and released only while the key still holds that token. A holder that dies stops renewing, so its lock expires
 * within its TTL; a holder whose lock expired anyway (a pause longer than the TTL, a Redis restart) learns it through
 * `onLost` and never touches the claim another process has made since.
 *
 * Claims that time out: a claim (or a release) that got no answer within the store's deadline may still be applied
 * later — a stalled Redis runs the commands it had received once it resumes — which would leave a lock nobody holds,
 * blocking the next claimant for a whole TTL. So the claim's token is then deleted in the background (delete-if-value,
 * retried until the store gives a definite answer): the store runs a connection's commands in order, so the delete
 * lands after the late claim and removes exactly it, and never a claim another process made meanwhile.
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

/** `taken`: another claim holds the key. `unavailable`: the store could not answer, so nobody can tell. */
export type StoreLockClaim =
  | { readonly state: "held"; readonly lock: HeldStoreLock }
  | { readonly state: "taken" }
  | { readonly state: "unavailable" };

/** How often a timed-out claim's token is asked to be deleted, and for how long at most. */
const ABANDON_RETRY_MS = 250;
const ABANDON_GIVE_UP_MS = 10 * 60_000;

/** Claims `key` when nobody holds it. */
export async function claimStoreLock(
  store: BlobStore,
  key: string,
  options: StoreLockOptions,
): Promise<StoreLockClaim> {
  const token = Buffer.from(`${options.owner}:${randomUUID()}`);
  try {
    if (!(await store.strict.setIfAbsent(key, token, options.ttlSeconds))) return { state: "taken" };
  } catch (error) {
    // A full store refused the claim outright; an unavailable one may still apply it.
    if (isStoreUnavailable(error)) abandonClaim(store, key, token);
    else if (!isStoreFull(error)) throw error;
    return { state: "unavailable" };
  }
  const renewal = setInterval(
    () => {
      void store.renewIfValue(key, token, options.ttlSeconds).then((renewed) => {
        // Unreachable store: keep trying, the claim may still stand once it is back.
        if (renewed || !store.isHealthy()) return;
        clearInterval(renewal);
        options.onLost?.();
      });
    },
    (options.ttlSeconds * 1000) / 3,
  );
  let released = false;
  const lock: HeldStoreLock = {
    async release() {
      if (released) return;
      released = true;
      clearInterval(renewal);
      try {
        await store.strict.deleteIfValue(key, token);
      } catch (error) {
        if (!isStoreUnavailable(error)) throw error;
        abandonClaim(store, key, token);
      }
    },
  };
  return { state: "held", lock };
}

/** Claims `key` when nobody holds it; null when another claim holds it or the store could not answer. */
export async function tryClaimStoreLock(
  store: BlobStore,
  key: string,
  options: StoreLockOptions,
): Promise<HeldStoreLock | null> {
  const claim = await claimStoreLock(store, key, options);
  return claim.state === "held" ? claim.lock : null;
}

/** Deletes the claim `token` in the background once the store answers (see the module comment). */
function abandonClaim(store: BlobStore, key: string, token: Buffer): void {
  const giveUpAt = Date.now() + ABANDON_GIVE_UP_MS;
  const attempt = () => {
    store.strict.deleteIfValue(key, token).catch((error: unknown) => {
      if (isStoreUnavailable(error) && Date.now() < giveUpAt) setTimeout(attempt, ABANDON_RETRY_MS).unref();
    });
  };
  attempt();
}
