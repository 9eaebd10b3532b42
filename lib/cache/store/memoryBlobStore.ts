import {
  assertValidTtl,
  isStoreFull,
  StoreFullError,
  type BlobStore,
  type StrictStoreOps,
} from "@/lib/cache/store/blobStore";
import { ChannelListeners, type MessageListener } from "@/lib/cache/store/channelListeners";

interface MemoryEntry {
  value: Buffer;
  expiresAtMs: number;
}

export interface MemoryBlobStoreOptions {
  /** Upper bound on the bytes of all values. */
  maxBytes: number;
  /**
   * What a write that does not fit does: `evict` the least recently used entries (caches; the default), or `refuse`
   * it (user data, never evicted before its TTL: the strict write rejects with StoreFullError, the soft one drops it).
   */
  whenFull?: "evict" | "refuse";
  /** Clock in milliseconds; injectable so TTL behaviour is testable without waiting. */
  now?: () => number;
}

/**
 * In-process BlobStore for machines without redis-server: same contract, data lost when the process ends.
 *
 * Invariants: `usedBytes` is the sum of the lengths of the stored values; `entries` iterates least recently used
 * first (a read or write re-inserts the key at the end), which is the eviction order once `usedBytes > maxBytes`.
 * Expired entries are dropped lazily when touched and in bulk whenever space is needed. A write that cannot fit — a
 * single value larger than `maxBytes`, or with `whenFull: "refuse"` any value that would pass it — leaves the store
 * as it was. Never unavailable: `strict` differs from the soft operations only in rejecting such a write.
 */
export class MemoryBlobStore implements BlobStore {
  readonly kind = "memory" as const;
  readonly generation = 0;
  readonly strict: StrictStoreOps;
  private readonly entries = new Map<string, MemoryEntry>();
  private usedBytes = 0;
  private readonly listeners = new ChannelListeners();
  private readonly maxBytes: number;
  private readonly evictWhenFull: boolean;
  private readonly now: () => number;

  constructor(options: MemoryBlobStoreOptions) {
    this.maxBytes = options.maxBytes;
    this.evictWhenFull = (options.whenFull ?? "evict") === "evict";
    this.now = options.now ?? Date.now;
    this.strict = {
      get: (key) => this.get(key),
      set: async (key, value, ttlSeconds) => {
        assertValidTtl(ttlSeconds);
        this.write(key, value, ttlSeconds);
      },
      setIfAbsent: async (key, value, ttlSeconds) => {
        assertValidTtl(ttlSeconds);
        if (this.live(key)) return false;
        this.write(key, value, ttlSeconds);
        return true;
      },
      renew: (key, ttlSeconds) => this.renew(key, ttlSeconds),
      renewIfValue: (key, value, ttlSeconds) => this.renewIfValue(key, value, ttlSeconds),
      deleteIfValue: (key, value) => this.deleteIfValue(key, value),
      del: (...keys) => this.del(...keys),
      deleteByPrefix: (prefix) => this.deleteByPrefix(prefix),
    };
  }

  async get(key: string): Promise<Buffer | null> {
    const entry = this.live(key);
    if (!entry) return null;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  async set(key: string, value: Buffer, ttlSeconds: number): Promise<void> {
    await this.strict.set(key, value, ttlSeconds).catch(unlessFull(undefined));
  }

  async setIfAbsent(key: string, value: Buffer, ttlSeconds: number): Promise<boolean> {
    return this.strict.setIfAbsent(key, value, ttlSeconds).catch(unlessFull(false));
  }

  async renew(key: string, ttlSeconds: number): Promise<boolean> {
    assertValidTtl(ttlSeconds);
    const entry = this.live(key);
    if (!entry) return false;
    entry.expiresAtMs = this.now() + ttlSeconds * 1000;
    return true;
  }

  async renewIfValue(key: string, value: Buffer, ttlSeconds: number): Promise<boolean> {
    assertValidTtl(ttlSeconds);
    const entry = this.live(key);
    if (!entry?.value.equals(value)) return false;
    entry.expiresAtMs = this.now() + ttlSeconds * 1000;
    return true;
  }

  async deleteIfValue(key: string, value: Buffer): Promise<boolean> {
    if (!this.live(key)?.value.equals(value)) return false;
    this.remove(key);
    return true;
  }

  async del(...keys: string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) {
      if (this.live(key)) {
        this.remove(key);
        removed += 1;
      }
    }
    return removed;
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    return this.del(...[...this.entries.keys()].filter((key) => key.startsWith(prefix)));
  }

  /** Delivers synchronously: every listener has run when the returned promise settles. */
  async publish(channel: string, message: string): Promise<number> {
    return this.listeners.deliver(channel, message);
  }

  subscribe(channel: string, listener: MessageListener): () => void {
    this.listeners.add(channel, listener);
    return () => void this.listeners.remove(channel, listener);
  }

  isHealthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.entries.clear();
    this.usedBytes = 0;
  }

  /** Bytes currently held (for tests and metrics). */
  get sizeBytes(): number {
    return this.usedBytes;
  }

  private live(key: string): MemoryEntry | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAtMs <= this.now()) {
      this.remove(key);
      return null;
    }
    return entry;
  }

  /** Throws StoreFullError, leaving the store as it was, when the value cannot fit. */
  private write(key: string, value: Buffer, ttlSeconds: number): void {
    const replaced = this.live(key)?.value.length ?? 0;
    if (value.length > this.maxBytes || !this.makeRoom(value.length - replaced, key)) {
      throw new StoreFullError(
        `${value.length} bytes do not fit the in-process store's budget of ${this.maxBytes} bytes`,
      );
    }
    this.remove(key);
    // Copy: the caller may reuse its buffer, and a store must not change when the caller does.
    this.entries.set(key, { value: Buffer.from(value), expiresAtMs: this.now() + ttlSeconds * 1000 });
    this.usedBytes += value.length;
  }

  /**
   * Makes room for `growth` more bytes: drops expired entries, then (when evicting) the least recently used ones other
   * than `keep`, the key being written; false when that is not enough.
   */
  private makeRoom(growth: number, keep: string): boolean {
    if (this.usedBytes + growth <= this.maxBytes) return true;
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs <= now && key !== keep) this.remove(key);
    }
    if (this.evictWhenFull) {
      for (const key of this.entries.keys()) {
        if (this.usedBytes + growth <= this.maxBytes) break;
        if (key !== keep) this.remove(key);
      }
    }
    return this.usedBytes + growth <= this.maxBytes;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.usedBytes -= entry.value.length;
  }
}

/** The soft operations' answer to a write that did not fit; anything else is rethrown. */
function unlessFull<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (isStoreFull(error)) return fallback;
    throw error;
  };
}
