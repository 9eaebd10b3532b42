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
 *   `isHealthy()` reports false until the store is reachable again. Callers that must know whether a write landed
 *   check `isHealthy()` after it.
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
  /** Resets the TTL of `key` only while it holds exactly `value`; true when it did (false too when the store is down). */
  renewIfValue(key: string, value: Buffer, ttlSeconds: number): Promise<boolean>;
  /** Deletes `key` only while it holds exactly `value`; true when it did (false too when the store is down). */
  deleteIfValue(key: string, value: Buffer): Promise<boolean>;
  /** Number of keys that existed and were removed. */
  del(...keys: string[]): Promise<number>;
  /** Removes every key starting with `prefix` (SCAN MATCH prefix* + UNLINK); number removed. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** Sends `message` on `channel`; returns how many subscribers got it (Redis: connections, one per process and store). */
  publish(channel: string, message: string): Promise<number>;
  /** Calls `listener` with every message published on `channel` from now on, until the returned function is called. */
  subscribe(channel: string, listener: MessageListener): () => void;
  /** False while the backing store is unreachable. */
  isHealthy(): boolean;
  close(): Promise<void>;
}

/** Names of store operations, as used in the `op` label of `vlcache_store_errors_total`. */
export type StoreOp = "get" | "set" | "setIfAbsent" | "renewIfValue" | "deleteIfValue" | "del" | "deleteByPrefix" | "publish";

export function assertValidTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`TTL must be a positive whole number of seconds, got ${ttlSeconds}`);
  }
}
