import type { PrefixTier } from "@/lib/api/types";
import { DeviceKvSegment } from "@/lib/cache/deviceKvSegment";
import { kvArraysOf, kvCacheOf } from "@/lib/cache/hostKv";
import { levelPrefix, type L2Namespace } from "@/lib/cache/keys";
import { wholeBlockPositions } from "@/lib/cache/kvBlockChain";
import { concatKvSegments, KvSegment, type KvArrays } from "@/lib/cache/kvSegment";
import type { PrefixKvStoreTier } from "@/lib/cache/l2StoreTier";
import type { PrefixKey } from "@/lib/cache/prefixKey";
import {
  DEFAULT_L2_BUDGET_BYTES,
  DEFAULT_L2_IDLE_TTL_MS,
  PrefixTree,
  type PrefixEvictionReason,
  type PrefixInsert,
} from "@/lib/cache/prefixTree";
import type { TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";
import {
  cacheBytes,
  cacheCapacityBytes,
  cacheEvictions,
  countLookup,
  prefixTokensReused,
} from "@/lib/metrics/cacheMetrics";
import { releaseKvCache, retainKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import type { KvOps } from "@/lib/model/engine/kvOps";

/**
 * L2: the decoder KV of prompt prefixes, in process, in a radix tree (prefixTree.ts) over prefix keys (prefixKey.ts:
 * text tokens by id, image tokens by their image's feature key, so two different images never share KV).
 *
 * Two ways of keeping the KV, fixed per cache:
 * - host (default): each segment is the cache's own copy in typed arrays (kvSegment.ts); a hit is copied into a
 *   fresh KvCache the decoder reads as `past`.
 * - device (`deviceKv` given: the engine's decoder keeps its KV in device memory): each segment references a range of
 *   a decoder-returned device cache (deviceKvSegment.ts), so an insert copies nothing; a hit whose path is one compact
 *   segment is served as that very cache, any other hit is joined on the device by one kvOps run. Segments that cover
 *   only part of their backing are compacted on the device at the start of the next lookup, so until then the last
 *   insert's whole cache stays allocated (at most one request's KV above the budget). A join that fails (device
 *   memory exhausted, say) is served as a miss: the request recomputes, it never fails for the cache.
 *
 * Lifecycle of one request:
 *   lookup(ns, key[0 : P−1]) → the longest stored prefix, LOCKED, as a KvCache the decoder reads as `past`
 *   → hit.release() once prefill has read it (unlocks; lets go of the served KV)
 *   → after decoding: insert(ns, prompt + generated key, kv) keeps only the positions not stored yet;
 *     the caller keeps its reference to `kv` and releases it as usual.
 * A locked node and its ancestors are never evicted; unlocked leaves are evicted least recently used first when the
 * byte budget needs room, and whenever they have been idle longer than the idle TTL (swept at most once a second, on
 * the next lookup or insert).
 *
 * Second tier (`storeTier` given, host KV only): the shared store's KV blocks (l2StoreTier.ts). When the memory tier's
 * match leaves at least one whole block of the key uncovered, lookup reads the blocks from the one holding the
 * match's end on; if they reach further, the hit is the memory match cut to that block boundary joined with them
 * (`tier: "store"`), and the joined prefix goes into the memory tier, so the next turn here finds it in memory. Every
 * insert is also offered to the store tier, which writes its blocks in the background.
 *
 * Invariants: the tree's bytes stay within the budget (prefixTree.ts refuses what cannot fit beside locked entries);
 * the decoder's tensors can be released by their owner at any time (host: copied; device: reference-counted); the KV
 * served for a key is exactly the KV the decoder produced for those positions.
 */
export interface PrefixKvCacheOptions {
  readonly budgetBytes?: number;
  readonly idleTtlMs?: number;
  /** Milliseconds; Date.now unless a test drives time. */
  readonly clock?: () => number;
  /** Minimum time between idle sweeps (default 1 s). */
  readonly sweepIntervalMs?: number;
  readonly logger?: Logger;
  /** Keep the KV where the decoder returns it (device memory), cut and joined with these ops; default: host copies. */
  readonly deviceKv?: KvOps;
  /** The shared store's blocks behind the memory tier (host KV only; see the class comment). */
  readonly storeTier?: PrefixKvStoreTier;
}

export interface PrefixKvHit {
  /** KV of the first `length` positions of the looked-up key ([1, kvHeads, length, headDim] per layer). */
  readonly kv: KvCache;
  readonly length: number;
  readonly tier: PrefixTier;
  /** Unlocks the reused prefix; call once prefill no longer reads `kv` (idempotent). */
  release(): void;
}

type StoredKv = KvSegment | DeviceKvSegment;

const DEFAULT_SWEEP_INTERVAL_MS = 1000;

export class PrefixKvCache {
  private readonly tree: PrefixTree<StoredKv>;
  private readonly clock: () => number;
  private readonly sweepIntervalMs: number;
  private readonly logger: Logger | undefined;
  private readonly deviceKv: KvOps | undefined;
  private readonly storeTier: PrefixKvStoreTier | undefined;
  /** Device segments that do not own their backing yet (see the class comment). */
  private readonly uncompacted = new Set<DeviceKvSegment>();
  /** Compactions run one after another (each is one kvOps run). */
  private compaction: Promise<void> = Promise.resolve();
  private lastSweep: number;

  constructor(options: PrefixKvCacheOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.logger = options.logger?.child({ module: "l2" });
    this.deviceKv = options.deviceKv;
    if (options.deviceKv && options.storeTier)
      throw new RangeError("l2: the store tier keeps host KV; it cannot back a device-memory L2");
    this.storeTier = options.storeTier;
    this.lastSweep = this.clock();
    this.tree = new PrefixTree<StoredKv>({
      budgetBytes: options.budgetBytes ?? DEFAULT_L2_BUDGET_BYTES,
      idleTtlMs: options.idleTtlMs ?? DEFAULT_L2_IDLE_TTL_MS,
      clock: this.clock,
      onEvict: (value, namespace, reason) => this.onEvict(value, namespace, reason),
    });
    cacheCapacityBytes.set({ level: "l2" }, this.tree.budgetBytes);
    this.publishBytes();
  }

  get totalBytes(): number {
    return this.tree.totalBytes;
  }

  get budgetBytes(): number {
    return this.tree.budgetBytes;
  }

  get lockedBytes(): number {
    return this.tree.lockedBytes;
  }

  /** Whether stored KV stays in device memory. */
  get onDevice(): boolean {
    return this.deviceKv !== undefined;
  }

  /** The longest stored prefix of `key` in `namespace`, locked until `release()`; null when nothing matches. */
  async lookup(namespace: L2Namespace, key: PrefixKey): Promise<PrefixKvHit | null> {
    const memory = await this.lookupMemory(namespace, key);
    const extended = await this.extendFromStore(namespace, key, memory).catch((error: unknown) => {
      // Cache trouble is a shorter hit, never a failed request.
      this.logger?.warn({ err: error, namespace }, "l2: could not extend the prefix from the store tier");
      return null;
    });
    const hit = extended ?? memory;
    countLookup("l2", hit === null ? "miss" : "hit");
    if (hit !== null) prefixTokensReused.inc(hit.length);
    return hit;
  }

  /** The memory match extended by the store tier's blocks; null when the store adds nothing (see the class comment). */
  private async extendFromStore(
    namespace: L2Namespace,
    key: PrefixKey,
    memory: PrefixKvHit | null,
  ): Promise<PrefixKvHit | null> {
    const tier = this.storeTier;
    const covered = memory?.length ?? 0;
    if (!tier || wholeBlockPositions(key.length, tier.blockTokens) < covered + tier.blockTokens) return null;
    const fromBlock = Math.floor(covered / tier.blockTokens);
    const from = fromBlock * tier.blockTokens;
    const fetched = await tier.fetch(namespace, key, fromBlock);
    const length = from + fetched.blocks.length * tier.blockTokens;
    if (length <= covered) return null;
    // KV [1, kvHeads, length, headDim]: the memory match's positions before the first fetched block, then the blocks.
    const parts: KvArrays[] = memory && from > 0 ? [KvSegment.slice(kvArraysOf(memory.kv), 0, from)] : [];
    const kv = kvCacheOf(concatKvSegments([...parts, ...fetched.blocks]));
    this.insertMemory(namespace, key.slice(0, length), kv);
    memory?.release();
    return { kv, length, tier: "store", release: () => {} };
  }

  /** The memory tier's longest match, locked. */
  private async lookupMemory(namespace: L2Namespace, key: PrefixKey): Promise<PrefixKvHit | null> {
    this.sweepIdle();
    await this.compactStored();
    const match = this.tree.matchPrefix(namespace, key);
    if (match.node === null || match.length === 0) return null;
    const node = match.node;
    this.tree.lock(node);
    let served: { kv: KvCache; release: () => void };
    try {
      served = await this.serve(match.values);
    } catch (error) {
      this.tree.unlock(node);
      if (!this.deviceKv) throw error;
      // Joining needs device memory beside the stored KV; without it the request recomputes the prefix.
      this.logger?.warn(
        { err: error, namespace, length: match.length },
        "l2: could not join the stored KV on the device; served as a miss",
      );
      return null;
    }
    let released = false;
    return {
      kv: served.kv,
      length: match.length,
      tier: "memory",
      release: () => {
        if (released) return;
        released = true;
        served.release();
        this.tree.unlock(node);
      },
    };
  }

  /**
   * Stores the positions of `key` not stored yet, taken from `kv` (key.length === kv.length); `kv` stays the caller's.
   */
  insert(namespace: L2Namespace, key: PrefixKey, kv: KvCache): PrefixInsert {
    if (key.length !== kv.length)
      throw new RangeError(`l2: a ${key.length}-token key for KV of ${kv.length} positions`);
    this.storeTier?.offer(namespace, key, kv);
    return this.insertMemory(namespace, key, kv);
  }

  /** The memory tier's part of `insert`. */
  private insertMemory(namespace: L2Namespace, key: PrefixKey, kv: KvCache): PrefixInsert {
    this.sweepIdle();
    if (key.length === 0) return { reusedLength: 0, addedLength: 0 };
    let makeValue: (start: number, end: number) => StoredKv;
    if (this.deviceKv) {
      makeValue = (start, end) => DeviceKvSegment.over(kv, start, end, this.uncompacted);
    } else {
      const arrays = kvArraysOf(kv);
      makeValue = (start, end) => KvSegment.slice(arrays, start, end);
    }
    const result = this.tree.insert(namespace, key, makeValue);
    this.publishBytes();
    return result;
  }

  /** Admin flush: evicts every unlocked entry of `tenant` (every model); returns the bytes freed. */
  forgetTenant(tenant: TenantId): number {
    const prefix = levelPrefix(tenant, "l2");
    this.storeTier?.forget(prefix);
    let freed = 0;
    for (const namespace of this.tree.namespaces()) {
      if (namespace.startsWith(prefix)) freed += this.tree.evictNamespace(namespace);
    }
    this.publishBytes();
    return freed;
  }

  /** The KV of `values` (the path of a match, in order) as one cache, and how to let go of it. */
  private async serve(values: readonly StoredKv[]): Promise<{ kv: KvCache; release: () => void }> {
    if (!this.deviceKv) {
      const kv = kvCacheOf(concatKvSegments(values as readonly KvSegment[]));
      return { kv, release: () => {} };
    }
    const segments = values as readonly DeviceKvSegment[];
    if (segments.length === 1 && segments[0].compact) {
      // The stored cache itself: the decoder only reads `past`, so nothing needs copying.
      const kv = segments[0].range.kv;
      retainKvCache(kv);
      return { kv, release: () => releaseKvCache(kv) };
    }
    const ranges = segments.map((segment) => segment.range);
    // The backings must outlive the run even if a segment is compacted or split meanwhile.
    for (const range of ranges) retainKvCache(range.kv);
    const kv = await this.deviceKv.gather(ranges).finally(() => ranges.forEach((range) => releaseKvCache(range.kv)));
    return { kv, release: () => releaseKvCache(kv) };
  }

  /** Gives every stored device segment a backing of its own (see the class comment); a failure leaves it shared. */
  private compactStored(): Promise<void> {
    const ops = this.deviceKv;
    if (!ops || this.uncompacted.size === 0) return this.compaction;
    this.compaction = this.compaction.then(async () => {
      for (const segment of [...this.uncompacted]) {
        await segment.compactWith(ops).catch((error: unknown) => {
          this.logger?.warn(
            { err: error },
            "l2: could not compact a stored KV segment on the device; it keeps sharing its backing",
          );
        });
      }
    });
    return this.compaction;
  }

  private sweepIdle(): void {
    const now = this.clock();
    if (now - this.lastSweep < this.sweepIntervalMs) return;
    this.lastSweep = now;
    if (this.tree.evictIdle(now) > 0) this.publishBytes();
  }

  private onEvict(value: StoredKv, namespace: string, reason: PrefixEvictionReason): void {
    if (value instanceof DeviceKvSegment) value.release();
    if (reason === "budget" || reason === "idle") cacheEvictions.inc({ level: "l2" });
    if (reason === "refused") {
      this.logger?.debug(
        { namespace, bytes: value.bytes, lockedBytes: this.tree.lockedBytes },
        "l2: KV does not fit beside locked entries; not stored",
      );
    }
  }

  private publishBytes(): void {
    cacheBytes.set({ level: "l2" }, this.tree.totalBytes);
  }
}
