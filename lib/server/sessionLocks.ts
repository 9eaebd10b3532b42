import { randomUUID } from "node:crypto";
import { sessionLockKey } from "@/lib/cache/keys";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { claimStoreLock } from "@/lib/cache/store/storeLock";
import type { SessionId, TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";
import { KeyedMutex } from "./keyedMutex";
import { RequestError } from "./requestError";

export interface SessionLocksOptions {
  /** Lifetime of a claim that is not renewed: how long a crashed replica can hold a session. */
  readonly ttlSeconds?: number;
  /** How often a turn waiting on another replica's turn asks again. */
  readonly pollIntervalMs?: number;
  readonly logger?: Logger;
}

/** Frees the session for its next turn; idempotent. */
export type ReleaseSessionLock = () => Promise<void>;

const DEFAULT_TTL_SECONDS = 30;
const DEFAULT_POLL_INTERVAL_MS = 50;

/**
 * The turn lock of a chat session, across every replica sharing the store: a turn holds it from loading the session
 * until its answer is saved, so the next turn — on this replica or another — builds on the saved history instead of
 * both appending to the same old one (the later save would drop the earlier turn).
 *
 * Two layers: in this process a KeyedMutex (waiters in arrival order, no polling); across processes a store lock
 * (storeLock.ts) that a waiting replica polls for. A replica that dies holding a session frees it within the TTL.
 * While the store is unreachable, or a claim gets no answer within the store's deadline, only the in-process layer
 * holds (fail soft: chats go on; replicas may then race as they did without the store lock); a claim that timed out
 * is deleted once the store answers again, so it never blocks the next turn (storeLock.ts).
 */
export class SessionLocks {
  private readonly local = new KeyedMutex();
  private readonly ttlSeconds: number;
  private readonly pollIntervalMs: number;
  private readonly owner = `${process.pid}:${randomUUID()}`;

  constructor(
    private readonly store: BlobStore,
    private readonly options: SessionLocksOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  /**
   * Resolves once this caller holds the session. `signal` (the request's) stops the wait: the client is gone, so the
   * turn will not run (a RequestError with status 499, the conventional "client closed request").
   */
  async acquire(tenant: TenantId, sessionId: SessionId, signal?: AbortSignal): Promise<ReleaseSessionLock> {
    const key = sessionLockKey(tenant, sessionId);
    const releaseLocal = await this.local.acquire(key);
    try {
      for (;;) {
        if (signal?.aborted)
          throw new RequestError(
            499,
            "client_closed_request",
            "the client went away while waiting for the session's previous turn",
          );
        if (!this.store.isHealthy()) return once(async () => releaseLocal());
        const claim = await claimStoreLock(this.store, key, {
          ttlSeconds: this.ttlSeconds,
          owner: this.owner,
          onLost: () =>
            this.options.logger?.warn(
              { sessionId },
              "session lock lost during a turn (expired or Redis restarted); another replica may run a turn of this session meanwhile",
            ),
        });
        if (claim.state === "unavailable") return once(async () => releaseLocal());
        if (claim.state === "held") {
          return once(async () => {
            try {
              await claim.lock.release();
            } finally {
              releaseLocal();
            }
          });
        }
        await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
      }
    } catch (error) {
      releaseLocal();
      throw error;
    }
  }

  /** Sessions held or waited on in this process. */
  get size(): number {
    return this.local.size;
  }
}

function once(release: () => Promise<void>): ReleaseSessionLock {
  let done: Promise<void> | null = null;
  return () => (done ??= release());
}
