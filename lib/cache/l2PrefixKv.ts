import * as ort from "onnxruntime-node";
import { levelPrefix, type L2Namespace } from "@/lib/cache/keys";
import { concatKvSegments, KvSegment, type KvArray, type KvArrays } from "@/lib/cache/kvSegment";
import type { PrefixKey } from "@/lib/cache/prefixKey";
import { DEFAULT_L2_BUDGET_BYTES, DEFAULT_L2_IDLE_TTL_MS, PrefixTree, type PrefixEvictionReason, type PrefixInsert } from "@/lib/cache/prefixTree";
import type { TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";
import { cacheBytes, cacheCapacityBytes, cacheEvictions, countLookup, prefixTokensReused } from "@/lib/metrics/cacheMetrics";
import type { KvCache } from "@/lib/model/engine/kvCache";

/**
 * L2: the decoder KV of prompt prefixes, in process, in a radix tree (prefixTree.ts) over prefix keys (prefixKey.ts:
 * text tokens by id, image tokens by their image's feature key, so two different images never share KV).
 *
 * Lifecycle of one request:
 *   lookup(ns, key[0 : P−1]) → the longest stored prefix, LOCKED and copied into a fresh KvCache the decoder reads as
 *     `past` → hit.release() once prefill has read it (unlocks; the copy is garbage)
 *   → after decoding: insert(ns, prompt + generated key, kv) copies only the positions not stored yet into the tree;
 *     the caller keeps ownership of `kv` and releases it as usual.
 * A locked node and its ancestors are never evicted; unlocked leaves are evicted least recently used first when the
 * byte budget needs room, and whenever they have been idle longer than the idle TTL (swept at most once a second, on
 * the next lookup or insert).
 *
 * Invariants: the tree's bytes stay within the budget (prefixTree.ts refuses what cannot fit beside locked entries);
 * stored KV is the cache's own copy, so the decoder's tensors can be disposed by their owner at any time; the KV
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
}

export interface PrefixKvHit {
  /** KV of the first `length` positions of the looked-up key ([1, kvHeads, length, headDim] per layer). */
  readonly kv: KvCache;
  readonly length: number;
  /** Unlocks the reused prefix; call once prefill no longer reads `kv` (idempotent). */
  release(): void;
}

const DEFAULT_SWEEP_INTERVAL_MS = 1000;

export class PrefixKvCache {
  private readonly tree: PrefixTree<KvSegment>;
  private readonly clock: () => number;
  private readonly sweepIntervalMs: number;
  private readonly logger: Logger | undefined;
  private lastSweep: number;

  constructor(options: PrefixKvCacheOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.logger = options.logger?.child({ module: "l2" });
    this.lastSweep = this.clock();
    this.tree = new PrefixTree<KvSegment>({
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

  /** The longest stored prefix of `key` in `namespace`, locked until `release()`; null when nothing matches. */
  lookup(namespace: L2Namespace, key: PrefixKey): PrefixKvHit | null {
    this.sweepIdle();
    const match = this.tree.matchPrefix(namespace, key);
    if (match.node === null || match.length === 0) {
      countLookup("l2", "miss");
      return null;
    }
    const node = match.node;
    this.tree.lock(node);
    let released = false;
    try {
      const kv = toKvCache(concatKvSegments(match.values));
      countLookup("l2", "hit");
      prefixTokensReused.inc(match.length);
      return {
        kv,
        length: match.length,
        release: () => {
          if (released) return;
          released = true;
          this.tree.unlock(node);
        },
      };
    } catch (error) {
      this.tree.unlock(node);
      throw error;
    }
  }

  /** Stores the positions of `key` not stored yet, copied from `kv` (key.length === kv.length); `kv` stays the caller's. */
  insert(namespace: L2Namespace, key: PrefixKey, kv: KvCache): PrefixInsert {
    if (key.length !== kv.length) throw new RangeError(`l2: a ${key.length}-token key for KV of ${kv.length} positions`);
    this.sweepIdle();
    if (key.length === 0) return { reusedLength: 0, addedLength: 0 };
    const arrays = fromKvCache(kv);
    const result = this.tree.insert(namespace, key, (start, end) => KvSegment.slice(arrays, start, end));
    this.publishBytes();
    return result;
  }

  /** Admin flush: evicts every unlocked entry of `tenant` (every model); returns the bytes freed. */
  forgetTenant(tenant: TenantId): number {
    const prefix = levelPrefix(tenant, "l2");
    let freed = 0;
    for (const namespace of this.tree.namespaces()) {
      if (namespace.startsWith(prefix)) freed += this.tree.evictNamespace(namespace);
    }
    this.publishBytes();
    return freed;
  }

  private sweepIdle(): void {
    const now = this.clock();
    if (now - this.lastSweep < this.sweepIntervalMs) return;
    this.lastSweep = now;
    if (this.tree.evictIdle(now) > 0) this.publishBytes();
  }

  private onEvict(value: KvSegment, namespace: string, reason: PrefixEvictionReason): void {
    if (reason === "budget" || reason === "idle") cacheEvictions.inc({ level: "l2" });
    if (reason === "refused") {
      this.logger?.debug({ namespace, bytes: value.bytes, lockedBytes: this.tree.lockedBytes }, "l2: KV does not fit beside locked entries; not stored");
    }
  }

  private publishBytes(): void {
    cacheBytes.set({ level: "l2" }, this.tree.totalBytes);
  }
}

/** The decoder's tensors [1, kvHeads, T, headDim] viewed as arrays [kvHeads, T, headDim] (no copy). */
function fromKvCache(kv: KvCache): KvArrays {
  const first = kv.layers[0]?.key;
  if (first === undefined) throw new RangeError("l2: KV without layers");
  const [, kvHeads, , headDim] = first.dims;
  return {
    kvHeads,
    headDim,
    length: kv.length,
    layers: kv.layers.map((layer) => ({ key: tensorArray(layer.key), value: tensorArray(layer.value) })),
  };
}

function tensorArray(tensor: ort.Tensor): KvArray {
  if (tensor.type === "float32" || tensor.type === "float16") return tensor.data as KvArray;
  throw new RangeError(`l2: KV tensors must be float32 or float16, got ${tensor.type}`);
}

function toKvCache(arrays: KvArrays): KvCache {
  const dims = [1, arrays.kvHeads, arrays.length, arrays.headDim];
  const tensor = (data: KvArray) => new ort.Tensor(data instanceof Float32Array ? "float32" : "float16", data, dims);
  return { length: arrays.length, layers: arrays.layers.map((layer) => ({ key: tensor(layer.key), value: tensor(layer.value) })) };
}
