import type { MessageListener } from "@/lib/cache/store/channelListeners";

/**
 * Key → bytes storage with per-entry TTL, plus messages to every process sharing it: the one persistence interface
 * every cache layer codes against.
 *
 * Implementations: `RedisBlobStore` (external Redis or the embedded redis-server) and `MemoryBlobStore` (in-process,
 * used when no redis-server is available). `openStore` picks one at start-up.
 *
 * Contract:
 * - Values are opaque bytes; keys are built by lib/cache/keys.ts.
 * - Every entry has a TTL in whole seconds (> 0); `set` replaces value and TTL, `setIfAbsent` writes only when the key
 *   is absent (SET NX EX) and is what locks and single-flight claims are built on.
 * - Locks: a holder claims with `setIfAbsent(key, token)` under a token unique to that claim, and renews and releases
 *   only through `renewIfValue` / `deleteIfValue` with the same token. Each checks the value and acts in one atomic
 *   step, so a holder whose lock expired (a slow encode, a long pause) can neither extend nor delete the lock another
 *   process has claimed since.
 * - Messages: `publish` reaches every `subscribe`d listener of the channel, in this process and in every other process
 *   on the same store (Redis pub/sub; the memory store, private to its process, delivers to its own listeners). At
 *   most once and only to processes connected at the time: a process cut off from Redis misses what was published
 *   meanwhile. Channel names are built like keys (under the versioned root).
 * - Fail soft: a store outage never throws into a request. Reads answer null, writes false or nothing, counts 0, and
 *   `isHealthy()` reports false until the store answers again. Caches use these operations.
 * - Strict: `strict` offers the same data operations for user data (images, sessions, locks), where "not found" and
 *   "could not look" must never be confused and a write that did not land must not pass for one: they reject with
 *   `StoreUnavailableError` during an outage (unreachable, or no answer within the store's deadline) and with
 *   `StoreFullError` when a write would exceed the store's budget for user data.
 * - Deadline: no operation waits longer than the store's deadline (STORE_TIMEOUT_MS for Redis); once one has missed it,
 *   the store counts as unhealthy and the next operations fail at once, until it answers again.
 */
export interface BlobStore {
  readonly kind: "redis" | "memory";
  /**
   * Changes whenever the store may have lost what was written before: a Redis store counts its connections, since a
   * reconnection may reach a server that restarted empty (or was flushed) and cannot tell; the memory store keeps 0, as
   * its data lives exactly as long as the process. Callers that keep copies of stored entries compare it with the
   * generation they last stored an entry in, to know when to write the entry back.
   */
  readonly generation: number;
  get(key: string): Promise<Buffer | null>;
  set(key: string, value: Buffer, ttlSeconds: number): Promise<void>;
  /** SET NX EX: true when this call wrote the value, false when the key already existed (or the store is down). */
  setIfAbsent(key: string, value: Buffer, ttlSeconds: number): Promise<boolean>;
  /**
   * Resets the TTL of `key` if it exists, without sending its value; true when it did (false too when the store is
   * down).
   */
  renew(key: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Resets the TTL of `key` only while it holds exactly `value`; true when it did (false too when the store is down).
   */
  renewIfValue(key: string, value: Buffer, ttlSeconds: number): Promise<boolean>;
  /** Deletes `key` only while it holds exactly `value`; true when it did (false too when the store is down). */
  deleteIfValue(key: string, value: Buffer): Promise<boolean>;
  /** Number of keys that existed and were removed. */
  del(...keys: string[]): Promise<number>;
  /** Removes every key starting with `prefix` (SCAN MATCH prefix* + UNLINK); number removed. */
  deleteByPrefix(prefix: string): Promise<number>;
  /**
   * Sends `message` on `channel`; returns how many subscribers got it (Redis: connections, one per process and store).
   */
  publish(channel: string, message: string): Promise<number>;
  /** Calls `listener` with every message published on `channel` from now on, until the returned function is called. */
  subscribe(channel: string, listener: MessageListener): () => void;
  /** The data operations without fail-soft, for user data (see the contract above). */
  readonly strict: StrictStoreOps;
  /** False while the backing store is unreachable or missed its deadline and has not answered since. */
  isHealthy(): boolean;
  close(): Promise<void>;
}

/** BlobStore's data operations that reject instead of answering soft (same meanings and results otherwise). */
export type StrictStoreOps = Pick<
  BlobStore,
  "get" | "set" | "setIfAbsent" | "renew" | "renewIfValue" | "deleteIfValue" | "del" | "deleteByPrefix"
>;

/**
 * The store could not answer — unreachable, or no reply within its deadline — so nothing is known about the key (it may
 * exist; a write may or may not have landed). Recognised by name, like the API's other errors (see requestError.ts).
 */
export class StoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreUnavailableError";
  }
}

/** A write refused because the store's memory budget is spent; nothing was written. */
export class StoreFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreFullError";
  }
}

export function isStoreUnavailable(error: unknown): error is StoreUnavailableError {
  return error instanceof Error && error.name === "StoreUnavailableError";
}

export function isStoreFull(error: unknown): error is StoreFullError {
  return error instanceof Error && error.name === "StoreFullError";
}

/** Names of store operations, as used in the `op` label of `vlcache_store_errors_total`. */
export type StoreOp =
  "get" | "set" | "setIfAbsent" | "renew" | "renewIfValue" | "deleteIfValue" | "del" | "deleteByPrefix" | "publish";

export function assertValidTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`TTL must be a positive whole number of seconds, got ${ttlSeconds}`);
  }
}
