/**
 * An in-process least-recently-used map bounded by bytes rather than entries: the L1 front in front of Redis, where one
 * image's features can weigh kilobytes or tens of megabytes.
 *
 * Lifecycle: `set` stores an entry with the byte size the caller states, then evicts least-recently-used entries until
 * the total is within the budget again; `get` returns an entry and makes it the most recently used; `has` looks without
 * touching the order; `delete` and `clear` drop entries. `onEvict` hears only budget evictions (what metrics
 * count), not replacements or deletions.
 *
 * Invariants: after every call, `bytes` equals the sum of the entries' sizes and `bytes <= maxBytes`; an entry larger
 * than the whole budget is refused (`set` returns false), because storing it would evict everything else and then
 * itself. After `set(k, v)`, `get(k)` returns `v` or nothing, never an older value: a refused `set` also removes the
 * key's previous entry.
 */
export interface ByteLruOptions<K, V> {
  readonly maxBytes: number;
  readonly onEvict?: (key: K, value: V, bytes: number) => void;
}

interface Entry<V> {
  readonly value: V;
  readonly bytes: number;
}

export class ByteLru<K, V> {
  readonly maxBytes: number;
  private readonly onEvict: ((key: K, value: V, bytes: number) => void) | undefined;
  /** Map iteration follows insertion order, so re-inserting on use keeps the least recently used entry first. */
  private readonly entries = new Map<K, Entry<V>>();
  private totalBytes = 0;

  constructor(options: ByteLruOptions<K, V>) {
    assertByteCount(options.maxBytes, "maxBytes");
    this.maxBytes = options.maxBytes;
    this.onEvict = options.onEvict;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Deletes every entry whose key passes `test` (not reported to `onEvict`); returns how many. */
  deleteWhere(test: (key: K) => boolean): number {
    const doomed = [...this.entries.keys()].filter(test);
    doomed.forEach((key) => this.delete(key));
    return doomed.length;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` as `bytes` bytes; false (and no entry for `key`) when it alone exceeds the budget. */
  set(key: K, value: V, bytes: number): boolean {
    assertByteCount(bytes, "bytes");
    this.delete(key);
    if (bytes > this.maxBytes) return false;
    this.entries.set(key, { value, bytes });
    this.totalBytes += bytes;
    for (const [oldestKey, oldest] of this.entries) {
      if (this.totalBytes <= this.maxBytes) break;
      this.entries.delete(oldestKey);
      this.totalBytes -= oldest.bytes;
      this.onEvict?.(oldestKey, oldest.value, oldest.bytes);
    }
    return true;
  }

  delete(key: K): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }
}

function assertByteCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`ByteLru: ${name} must be a non-negative integer, got ${value}`);
  }
}
