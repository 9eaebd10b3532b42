import { kvArraysOf } from "@/lib/cache/hostKv";
import { kvBlockHashes, type KvBlockHash } from "@/lib/cache/kvBlockChain";
import { decodeKvBlock, encodeKvBlock, type KvBlockShape } from "@/lib/cache/kvBlockCodec";
import { KvSegment, type KvArrays } from "@/lib/cache/kvSegment";
import { l2BlockKey, type L2Namespace } from "@/lib/cache/keys";
import type { PrefixKey } from "@/lib/cache/prefixKey";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import type { Logger } from "@/lib/log";
import { droppedEntries, l2StoreBytes, l2StoreWriteProblems } from "@/lib/metrics/cacheMetrics";
import { releaseKvCache, retainKvCache, type KvCache } from "@/lib/model/engine/kvCache";

export interface StoreTierOptions {
  readonly store: BlobStore;
  /** What every block of the served model looks like (checked on every read). */
  readonly shape: KvBlockShape;
  readonly blockTokens: number;
  readonly ttlSeconds: number;
  readonly maxQueuedWrites?: number;
  readonly readWindowBlocks?: number;
  readonly logger?: Logger;
}

/** Bytes and blocks this tier moved, since it was created (the benchmark reads them per request). */
export interface StoreTierStats {
  blocksRead: number;
  bytesRead: number;
  blocksWritten: number;
  bytesWritten: number;
  blocksRejected: number;
  writeFailures: number;
  writesDropped: number;
}

export interface FetchedBlocks {
  /** Consecutive blocks from the requested one on, each `blockTokens` positions. */
  readonly blocks: readonly KvArrays[];
}

interface WriteJob {
  readonly namespace: L2Namespace;
  readonly key: PrefixKey;
  readonly kv: KvCache;
  readonly release: () => void;
}

const DEFAULT_MAX_QUEUED_WRITES = 8;
const DEFAULT_READ_WINDOW_BLOCKS = 8;

/**
 * L2's second tier: prefix KV in the shared store (the caches' BlobStore), in fixed-size blocks of `blockTokens`
 * positions named by a hash chain (kvBlockChain.ts) and stored as self-checking records (kvBlockCodec.ts) under
 * `l2BlockKey(namespace, hash)`, one key per block — so any replica sharing the store, or this one after a restart or
 * an eviction from its memory tier, resumes a prefix another process computed. PrefixKvCache (l2PrefixKv.ts) puts it
 * behind its memory tier; this class only moves blocks.
 *
 * Reads: `fetch` reads the blocks of a key from a given block on, `readWindowBlocks` at a time (concurrent GETs, which
 * the Redis client sends pipelined on its connection), and stops at the first block that is missing or fails its checks;
 * so what it returns is always a run of whole, verified, consecutive blocks. A block that fails its checks (partial
 * write, corruption, another format) is deleted and counted (`vlcache_cache_dropped_entries_total{level="l2"}`). Every
 * read is a fail-soft store call under the store's deadline: an outage is a shorter (or empty) run, never an error.
 *
 * Writes: `offer` (after a turn, from PrefixKvCache.insert) takes a reference to the turn's KV and queues it; one job
 * at a time runs in the background, after the answer: for each whole block it renews the block's TTL if present and
 * writes it if not, so a chain's shared blocks are sent once. At most `maxQueuedWrites` jobs wait; past that the oldest
 * is dropped (a later turn of the same chat covers its blocks). Failures are logged and counted
 * (`vlcache_l2_store_write_problems_total`), never thrown. Each job lets go of its KV reference when it ends. An admin
 * flush (`forget`) drops its tenant's queued jobs and stops the running one before its next window of blocks.
 *
 * Budget: blocks live in the caches' store, under its byte budget and eviction (allkeys-lru on the embedded store,
 * the operator's policy with REDIS_URL or REDIS_CLUSTER_NODES), beside L1 features and L3 answers, each with a TTL of
 * `ttlSeconds` renewed whenever a turn covers it again.
 *
 * Invariant: the KV returned for a key's blocks is exactly the KV the decoder produced for those positions (a block's
 * hash covers every key token of its prefix, and its checksum its bytes).
 */
export class PrefixKvStoreTier {
  readonly blockTokens: number;
  readonly stats: StoreTierStats = {
    blocksRead: 0,
    bytesRead: 0,
    blocksWritten: 0,
    bytesWritten: 0,
    blocksRejected: 0,
    writeFailures: 0,
    writesDropped: 0,
  };
  private readonly store: BlobStore;
  private readonly shape: KvBlockShape;
  private readonly ttlSeconds: number;
  private readonly maxQueuedWrites: number;
  private readonly readWindowBlocks: number;
  private readonly logger: Logger | undefined;
  private readonly queue: WriteJob[] = [];
  /** The job being written, and whether a flush has cancelled it (it stops before its next window). */
  private current: { job: WriteJob; cancelled: boolean } | null = null;
  /** The background writer; resolved while the queue is empty. */
  private writing: Promise<void> = Promise.resolve();
  private writerRunning = false;

  constructor(options: StoreTierOptions) {
    this.store = options.store;
    this.shape = options.shape;
    this.blockTokens = options.blockTokens;
    this.ttlSeconds = options.ttlSeconds;
    this.maxQueuedWrites = options.maxQueuedWrites ?? DEFAULT_MAX_QUEUED_WRITES;
    this.readWindowBlocks = options.readWindowBlocks ?? DEFAULT_READ_WINDOW_BLOCKS;
    this.logger = options.logger?.child({ module: "l2-store" });
  }

  /** The verified blocks of `key` from block `fromBlock` on, up to the first one missing or rejected. */
  async fetch(namespace: L2Namespace, key: PrefixKey, fromBlock: number): Promise<FetchedBlocks> {
    const hashes = kvBlockHashes(key, this.blockTokens);
    const blocks: KvArrays[] = [];
    let bytes = 0;
    for (let start = fromBlock; start < hashes.length; start += this.readWindowBlocks) {
      const window = hashes.slice(start, start + this.readWindowBlocks);
      const values = await Promise.all(window.map((hash) => this.store.get(l2BlockKey(namespace, hash))));
      for (const [i, value] of values.entries()) {
        if (value === null) return this.fetched(blocks, bytes);
        const decoded = decodeKvBlock(value, { hash: window[i], shape: this.shape, tokens: this.blockTokens });
        if (!decoded.ok) {
          this.reject(namespace, window[i], decoded.reason);
          return this.fetched(blocks, bytes);
        }
        blocks.push(decoded.kv);
        bytes += value.length;
      }
    }
    return this.fetched(blocks, bytes);
  }

  /**
   * Queues the whole blocks of `key` (key.length === kv.length) for writing; holds a reference to `kv` until written,
   * so the caller may release its own at once.
   */
  offer(namespace: L2Namespace, key: PrefixKey, kv: KvCache): void {
    if (key.length < this.blockTokens) return;
    this.queue.push({ namespace, key, kv, release: holdKv(kv) });
    while (this.queue.length > this.maxQueuedWrites) {
      this.queue.shift()!.release();
      this.stats.writesDropped += 1;
      l2StoreWriteProblems.inc({ problem: "dropped" });
    }
    if (!this.writerRunning) {
      this.writerRunning = true;
      // After the current task: the turn's answer is finished before any block is encoded.
      this.writing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
    }
  }

  /** Resolves once every queued write has ended (tests and the benchmark wait on it; requests never do). */
  drained(): Promise<void> {
    return this.writing;
  }

  /** Drops queued writes of namespaces starting with `prefix`, and stops the running one (an admin flush). */
  forget(prefix: string): void {
    if (this.current?.job.namespace.startsWith(prefix)) this.current.cancelled = true;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (!this.queue[i].namespace.startsWith(prefix)) continue;
      this.queue[i].release();
      this.queue.splice(i, 1);
    }
  }

  private async drain(): Promise<void> {
    try {
      for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
        this.current = { job, cancelled: false };
        try {
          await this.write(this.current);
        } catch (error) {
          this.stats.writeFailures += 1;
          l2StoreWriteProblems.inc({ problem: "failed" });
          this.logger?.warn({ err: error, namespace: job.namespace }, "l2-store: could not write a turn's KV blocks");
        } finally {
          this.current = null;
          job.release();
        }
      }
    } finally {
      this.writerRunning = false;
    }
  }

  private async write(running: { readonly job: WriteJob; readonly cancelled: boolean }): Promise<void> {
    const { job } = running;
    const hashes = kvBlockHashes(job.key, this.blockTokens);
    const arrays = kvArraysOf(job.kv);
    for (let start = 0; start < hashes.length && !running.cancelled; start += this.readWindowBlocks) {
      const window = hashes.slice(start, start + this.readWindowBlocks);
      // Strict calls: a write that did not land is a failure to count, not a silent no-op.
      await Promise.all(
        window.map(async (hash, i) => {
          const key = l2BlockKey(job.namespace, hash);
          if (await this.store.strict.renew(key, this.ttlSeconds)) return;
          const block = (start + i) * this.blockTokens;
          const bytes = encodeKvBlock(hash, KvSegment.slice(arrays, block, block + this.blockTokens));
          await this.store.strict.set(key, bytes, this.ttlSeconds);
          this.stats.blocksWritten += 1;
          this.stats.bytesWritten += bytes.length;
          l2StoreBytes.inc({ direction: "write" }, bytes.length);
        }),
      );
    }
  }

  private fetched(blocks: KvArrays[], bytes: number): FetchedBlocks {
    this.stats.blocksRead += blocks.length;
    this.stats.bytesRead += bytes;
    if (bytes > 0) l2StoreBytes.inc({ direction: "read" }, bytes);
    return { blocks };
  }

  private reject(namespace: L2Namespace, hash: KvBlockHash, reason: string): void {
    this.stats.blocksRejected += 1;
    droppedEntries.inc({ level: "l2", reason });
    this.logger?.warn({ namespace, hash, reason }, "l2-store: a stored KV block failed its checks; deleted, not used");
    void this.store.del(l2BlockKey(namespace, hash));
  }
}

/**
 * Keeps `kv` readable until the returned function is called: a reference of its own to a cache a run returned; a cache
 * built from arrays (not tracked, kvCache.ts) stays readable for as long as it is referenced.
 */
function holdKv(kv: KvCache): () => void {
  try {
    retainKvCache(kv);
  } catch {
    return () => {};
  }
  return () => releaseKvCache(kv);
}
