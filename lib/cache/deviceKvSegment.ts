import type { SegmentValue } from "@/lib/cache/prefixTree";
import type { KvOps } from "@/lib/model/engine/kvOps";
import { kvCacheBytes, releaseKvCache, retainKvCache, type KvCache } from "@/lib/model/engine/kvCache";

/**
 * The L2 value when the decoder's KV lives in device memory (kvCache.ts): positions [start, end) of a decoder-returned
 * cache (the "backing"), held by reference instead of copied, so storing a prefix moves nothing through host memory.
 *
 * Lifetime: a segment holds one reference to its backing (retainKvCache) from creation until `release()` (the tree
 * evicted it) or `split` (the tree replaced it by its two halves, each holding a reference of its own); the backing is
 * disposed when the last segment and its other owners let go. `release` is idempotent.
 *
 * Compaction: a segment usually covers only part of its backing (an insert stores the positions not stored yet; a
 * split halves a segment), so until `compact` the backing holds more bytes than `bytes` counts. `compact` cuts the
 * range into a backing of its own on the device (kvOps) and lets go of the shared one; a segment released meanwhile
 * drops the new backing at once.
 *
 * Invariants: `bytes` = length × bytes per position; `split(at)` conserves length and bytes; the KV a segment serves
 * (`range`) never changes, compaction only changes where it is kept.
 */
export class DeviceKvSegment implements SegmentValue<DeviceKvSegment> {
  readonly length: number;
  readonly bytes: number;
  private backing: KvCache;
  private start: number;
  private released = false;

  private constructor(
    backing: KvCache,
    start: number,
    end: number,
    private readonly bytesPerPosition: number,
    /** Segments not compact yet, of one cache; each segment keeps itself in it while it is live and not compact. */
    private readonly uncompacted: Set<DeviceKvSegment>,
  ) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > backing.length) {
      throw new RangeError(`DeviceKvSegment: [${start}, ${end}) is empty or outside the ${backing.length} positions`);
    }
    retainKvCache(backing);
    this.backing = backing;
    this.start = start;
    this.length = end - start;
    this.bytes = this.length * bytesPerPosition;
    if (!this.compact) uncompacted.add(this);
  }

  /** Positions [start, end) of a cache a run returned; takes a reference of its own (the caller keeps theirs). */
  static over(backing: KvCache, start: number, end: number, uncompacted: Set<DeviceKvSegment>): DeviceKvSegment {
    return new DeviceKvSegment(backing, start, end, kvCacheBytes(backing) / backing.length, uncompacted);
  }

  /** The segment's KV as a range of its backing (valid until the segment is released). */
  get range(): { readonly kv: KvCache; readonly start: number; readonly end: number } {
    if (this.released) throw new Error("DeviceKvSegment: read after release");
    return { kv: this.backing, start: this.start, end: this.start + this.length };
  }

  /** Whether the backing holds exactly this segment's positions (so it can be served as is). */
  get compact(): boolean {
    return this.start === 0 && this.length === this.backing.length;
  }

  split(at: number): readonly [DeviceKvSegment, DeviceKvSegment] {
    if (!Number.isInteger(at) || at <= 0 || at >= this.length) {
      throw new RangeError(`DeviceKvSegment.split: ${at} is not strictly inside the ${this.length} positions`);
    }
    const { kv, start, end } = this.range;
    const halves = [
      new DeviceKvSegment(kv, start, start + at, this.bytesPerPosition, this.uncompacted),
      new DeviceKvSegment(kv, start + at, end, this.bytesPerPosition, this.uncompacted),
    ] as const;
    this.release();
    return halves;
  }

  /** Moves the range into a backing of its own (no-op when it has one already). */
  async compactWith(ops: KvOps): Promise<void> {
    if (this.released || this.compact) return;
    const range = this.range;
    // The backing must outlive the run even if this segment is released or compacted by someone else meanwhile.
    retainKvCache(range.kv);
    const own = await ops.gather([range]).finally(() => releaseKvCache(range.kv));
    if (this.released || range.kv !== this.backing) {
      releaseKvCache(own);
      return;
    }
    releaseKvCache(this.backing);
    this.backing = own;
    this.start = 0;
    this.uncompacted.delete(this);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.uncompacted.delete(this);
    releaseKvCache(this.backing);
  }
}
