import { assertValidTtl, type BlobStore } from "@/lib/cache/store/blobStore";
import { ChannelListeners, type MessageListener } from "@/lib/cache/store/channelListeners";

interface MemoryEntry {
  value: Buffer;
  expiresAtMs: number;
}

export interface MemoryBlobStoreOptions {
  /** Upper bound on the bytes of all values; past it the least recently used entries are evicted. */
  maxBytes: number;
  /** Clock in milliseconds; injectable so TTL behaviour is testable without waiting. */
  now?: () => number;
}

/**
 * In-process BlobStore for machines without redis-server: same contract, data lost when the process ends.
 *
 * Invariants: `usedBytes` is the sum of the lengths of the stored values; `entries` iterates least recently used
 * first (a read or write re-inserts the key at the end), which is the eviction order once `usedBytes > maxBytes`.
 * Expired entries are dropped lazily when touched and in bulk whenever space is needed. A single value larger than
 * `maxBytes` is not stored at all (a write that cannot fit leaves the store as it was).
 */
export class MemoryBlobStore implements BlobStore {
  readonly kind = "memory" as const;
  readonly generation = 0;
  private readonly entries = new Map<string, MemoryEntry>();
  private usedBytes = 0;
  private readonly listeners = new ChannelListeners();
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(options: MemoryBlobStoreOptions) {
    this.maxBytes = options.maxBytes;
    this.now = options.now ?? Date.now;
  }

  async get(key: string): Promise<Buffer | null> {
    const entry = this.live(key);
    if (!entry) return null;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  async set(key: string, value: Buffer, ttlSeconds: number): Promise<void> {
    assertValidTtl(ttlSeconds);
    this.write(key, value, ttlSeconds);
  }

  async setIfAbsent(key: string, value: Buffer, ttlSeconds: number): Promise<boolean> {
    assertValidTtl(ttlSeconds);
    if (this.live(key)) return false;
    return this.write(key, value, ttlSeconds);
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

  private write(key: string, value: Buffer, ttlSeconds: number): boolean {
    if (value.length > this.maxBytes) return false;
    this.remove(key);
    this.makeRoom(value.length);
    // Copy: the caller may reuse its buffer, and a store must not change when the caller does.
    this.entries.set(key, { value: Buffer.from(value), expiresAtMs: this.now() + ttlSeconds * 1000 });
    this.usedBytes += value.length;
    return true;
  }

  private makeRoom(incoming: number): void {
    if (this.usedBytes + incoming <= this.maxBytes) return;
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs <= now) this.remove(key);
    }
    for (const key of this.entries.keys()) {
      if (this.usedBytes + incoming <= this.maxBytes) break;
      this.remove(key);
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.usedBytes -= entry.value.length;
  }
}
