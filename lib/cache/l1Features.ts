import { randomUUID } from "node:crypto";
import type { FeatureSource } from "@/lib/api/types";
import { ByteLru } from "@/lib/cache/byteLru";
import {
  decodeFeatureRecord,
  encodeFeatureRecord,
  type FeatureDtype,
  type FeatureRecord,
  type FeatureTensors,
} from "@/lib/cache/featureRecord";
import { type FeatureIdentity } from "@/lib/cache/featureIdentity";
import { l1FeaturesKey, l1LockKey, levelPrefix } from "@/lib/cache/keys";
import { SingleFlight } from "@/lib/cache/singleFlight";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { tryClaimStoreLock, type HeldStoreLock } from "@/lib/cache/store/storeLock";
import { StoreFallback } from "@/lib/cache/storeFallback";
import type { ModelFingerprint, TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";
import { cacheBytes, cacheCapacityBytes, cacheEvictions, droppedEntries } from "@/lib/metrics/cacheMetrics";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { ImageGrid } from "@/lib/model/positions/mrope";

/**
 * L1: one image's vision features (image features, DeepStack rows, grid), computed at most once per model, image,
 * preprocessing and storage dtype, and shared by every process on the same Redis.
 *
 * Layers: an in-process LRU bounded in bytes (decoded features, ready to use) in front of the store (Redis), where
 * each entry is a feature record (featureRecord.ts) under `l1FeaturesKey` with a TTL (24 h by default). An entry found
 * only in the store is decoded, checked and copied to the LRU. Each LRU entry remembers the store generation
 * (BlobStore.generation) it was last known stored in; an LRU hit under another generation — Redis reconnected, maybe
 * restarted empty, or the entry was computed while it was down — writes the entry back (SET NX, in the background),
 * so other processes sharing the store find it instead of encoding the image again.
 *
 * Lifecycle of one key, in `getOrCompute`:
 *   in-process single flight (one resolution per key per process; later callers join it)
 *   → LRU hit | store hit → served
 *   → miss → claim the encode lock (SET NX with a short TTL and a token unique to this claim; renewed while encoding,
 *       and renewed or released only while it still holds that token, so an expired claim never touches a newer one)
 *       claimed: look once more (another process may have just finished), else compute, write store + LRU, unlock
 *       held elsewhere: poll the store until the features appear, or the lock vanishes (holder done or dead: look
 *       again, claim again)
 *   → store unreachable: compute here, keep in the LRU only (counted and logged as a fall-back; see storeFallback.ts)
 *
 * Invariants:
 * - Whatever is served went through the storage dtype: freshly computed features are encoded as a record and served
 *   decoded from it, so an fp16 or int8 configuration answers a first (computed) request exactly like every later
 *   (cached) one, and KV built from them (L2) is the same either way.
 * - A stored record that fails any check (checksum, header, version, shape against the model and the image's grid) is
 *   deleted and recomputed, never partly used.
 * - The vision encoder runs only inside `compute` (which counts `vlcache_vision_encoder_runs_total`); within a process
 *   one key is never computed twice at once, and across processes the lock keeps it to one while the store is up and
 *   no holder stalls past the lock's TTL between renewals (one that does loses the lock and finishes anyway: at most
 *   one extra encode, never a third one caused by a stale holder deleting the new holder's lock).
 *
 * Precompute (uploads): `precompute` starts `getOrCompute` in the background and records its state, which
 * `status` reports as `encoding` → `ready` with the time it took; a request arriving meanwhile joins the same flight
 * and reports its features as `precomputed`.
 */
export const DEFAULT_L1_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_L1_MEMORY_BYTES = 256 * 1024 * 1024;
export const DEFAULT_L1_LOCK_TTL_SECONDS = 10;
const DEFAULT_POLL_INTERVAL_MS = 20;
/** Precompute states remembered per process (enough for any gallery; older ones report from the store). */
const PRECOMPUTE_STATES = 4096;
/** Fixed per-entry bookkeeping counted on top of the feature arrays. */
const ENTRY_OVERHEAD_BYTES = 256;

export interface FeatureCacheOptions {
  readonly store: BlobStore;
  readonly fingerprint: ModelFingerprint;
  /** What every record of this model must hold: hidden width and number of DeepStack layers (0 without DeepStack). */
  readonly shape: { readonly hidden: number; readonly deepstackLayers: number };
  readonly storage?: FeatureDtype;
  readonly ttlSeconds?: number;
  readonly memoryBytes?: number;
  readonly lockTtlSeconds?: number;
  readonly pollIntervalMs?: number;
  readonly logger?: Logger;
}

export interface FeatureLookupRequest {
  readonly tenant: TenantId;
  readonly identity: FeatureIdentity;
  /** The image's grid when known: a stored record for another grid is then refused as a mismatch. */
  readonly grid?: ImageGrid;
}

export interface FeatureAnswer {
  readonly features: ImageFeatures;
  readonly source: FeatureSource;
}

export interface GetOrComputeOptions {
  /** False: neither read nor write the cache (the per-request L1 switch); features still go through the dtype. */
  readonly useCache?: boolean;
  /** Stops waiting on another process's encode. */
  readonly signal?: AbortSignal;
}

export type PrecomputeState =
  | { readonly status: "encoding"; readonly startedAt: number }
  | { readonly status: "ready"; readonly encodingMs: number | null };

interface PrecomputeEntry {
  readonly startedAt: number;
  encodingMs: number | null;
  done: boolean;
  /** Whether a request has already been served these features (it reports `precomputed`; later ones `l1`). */
  served: boolean;
}

interface MemoryEntry {
  readonly features: ImageFeatures;
  readonly expiresAt: number;
  /** The store generation in which this entry was last known to be in the store; null: never stored (outage). */
  storedIn: number | null;
}

type Resolution = { readonly features: ImageFeatures; readonly computedHere: boolean };

export class FeatureCache {
  readonly storage: FeatureDtype;
  readonly fingerprint: ModelFingerprint;
  private readonly store: BlobStore;
  private readonly shape: FeatureCacheOptions["shape"];
  private readonly ttlSeconds: number;
  private readonly lockTtlSeconds: number;
  private readonly pollIntervalMs: number;
  private readonly logger: Logger | undefined;
  private readonly memory: ByteLru<string, MemoryEntry>;
  private readonly flights = new SingleFlight<string, Resolution>();
  private readonly precomputes = new ByteLru<string, PrecomputeEntry>({ maxBytes: PRECOMPUTE_STATES });
  private readonly fallback: StoreFallback;
  /** Names this process and cache in lock tokens (`<pid>:<instance>:<claim>`), for debugging a stuck lock in redis-cli. */
  private readonly owner = `${process.pid}:${randomUUID()}`;

  constructor(options: FeatureCacheOptions) {
    this.store = options.store;
    this.fingerprint = options.fingerprint;
    this.shape = options.shape;
    this.storage = options.storage ?? "fp32";
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_L1_TTL_SECONDS;
    this.lockTtlSeconds = options.lockTtlSeconds ?? DEFAULT_L1_LOCK_TTL_SECONDS;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.logger = options.logger?.child({ module: "l1" });
    this.fallback = new StoreFallback("l1", this.store, this.logger);
    this.memory = new ByteLru<string, MemoryEntry>({
      maxBytes: options.memoryBytes ?? DEFAULT_L1_MEMORY_BYTES,
      onEvict: () => cacheEvictions.inc({ level: "l1" }),
    });
    cacheCapacityBytes.set({ level: "l1" }, this.memory.maxBytes);
    this.publishBytes();
  }

  /** Bytes held in process (decoded features plus bookkeeping); never above `memoryBudgetBytes`. */
  get memoryBytes(): number {
    return this.memory.bytes;
  }

  get memoryBudgetBytes(): number {
    return this.memory.maxBytes;
  }

  /** The features of one image, from the cache or computed once (see the module comment for the steps). */
  async getOrCompute(
    request: FeatureLookupRequest,
    compute: () => Promise<ImageFeatures>,
    options: GetOrComputeOptions = {},
  ): Promise<FeatureAnswer> {
    this.checkIdentity(request.identity);
    if (options.useCache === false) {
      return { features: this.throughStorage(await compute()).features, source: "computed" };
    }
    const key = this.featuresKey(request);
    const resolution = await this.flights.run(key, () => this.resolve(request, key, compute, options.signal));
    const precompute = this.precomputes.get(key);
    let source: FeatureSource = resolution.computedHere ? "computed" : "l1";
    if (precompute !== undefined && !precompute.served) {
      precompute.served = true;
      source = "precomputed";
    }
    return { features: resolution.features, source };
  }

  /** Cached features only (LRU, then store); null on a miss. Never computes, never waits on a lock. */
  async lookup(request: FeatureLookupRequest): Promise<ImageFeatures | null> {
    this.checkIdentity(request.identity);
    return this.read(request, this.featuresKey(request));
  }

  /**
   * Starts computing an image's features in the background (an upload); returns at once, with `ready` when they are
   * already in process memory. Errors are logged, not thrown: a request that needs the features computes them itself.
   */
  precompute(request: FeatureLookupRequest, compute: () => Promise<ImageFeatures>): PrecomputeState["status"] {
    this.checkIdentity(request.identity);
    const key = this.featuresKey(request);
    const existing = this.precomputes.get(key);
    if (existing !== undefined && !existing.done) return "encoding";
    // Uploaded again while its features are at hand: nothing to encode.
    if (this.memory.has(key)) return "ready";
    const entry: PrecomputeEntry = { startedAt: Date.now(), encodingMs: null, done: false, served: false };
    this.precomputes.set(key, entry, 1);
    const started = performance.now();
    // Settled inside the flight, so a request that joined it sees `ready` as soon as it has its features.
    const settle = (resolution: Resolution | null) => {
      entry.encodingMs = resolution?.computedHere ? performance.now() - started : null;
      entry.done = true;
    };
    const joined = this.flights.has(key);
    const flight = this.flights.run(key, async () => {
      try {
        const resolution = await this.resolve(request, key, compute, undefined);
        settle(resolution);
        return resolution;
      } catch (error) {
        settle(null);
        throw error;
      }
    });
    if (joined) flight.then(settle, () => settle(null));
    flight.catch((error: unknown) => {
      this.logger?.error({ err: error, imageId: request.identity.imageId }, "l1: precompute failed; the first request will compute the features");
    });
    return "encoding";
  }

  /**
   * Precompute state of an image for GET /api/images/:id: `encoding` while this process computes it or another
   * process holds its encode lock, else `ready` (with the time it took when this process encoded it).
   */
  async precomputeState(request: FeatureLookupRequest): Promise<PrecomputeState> {
    this.checkIdentity(request.identity);
    const entry = this.precomputes.get(this.featuresKey(request));
    if (entry !== undefined) {
      return entry.done ? { status: "ready", encodingMs: entry.encodingMs } : { status: "encoding", startedAt: entry.startedAt };
    }
    const lock = await this.store.get(l1LockKey(request.tenant, this.fingerprint, request.identity));
    return lock !== null ? { status: "encoding", startedAt: Date.now() } : { status: "ready", encodingMs: null };
  }

  /** Admin flush, in-process part: drops the entries of `tenant` (every model) from process memory; returns how many. */
  forgetTenant(tenant: TenantId): number {
    const prefix = levelPrefix(tenant, "l1");
    const dropped = this.memory.deleteWhere((key) => key.startsWith(prefix));
    this.publishBytes();
    return dropped;
  }

  private async resolve(
    request: FeatureLookupRequest,
    key: string,
    compute: () => Promise<ImageFeatures>,
    signal: AbortSignal | undefined,
  ): Promise<Resolution> {
    const lockKey = l1LockKey(request.tenant, this.fingerprint, request.identity);
    for (;;) {
      const cached = await this.read(request, key);
      if (cached !== null) return { features: cached, computedHere: false };
      if (!this.fallback.available()) return this.computeAndKeep(key, compute, false);
      const lock = await tryClaimStoreLock(this.store, lockKey, {
        ttlSeconds: this.lockTtlSeconds,
        owner: this.owner,
        // Finishing the encode is still right, but another process may encode the image too.
        onLost: () =>
          this.logger?.warn(
            { imageId: request.identity.imageId },
            "l1: encode lock lost while encoding (expired or Redis restarted); another process may encode this image too",
          ),
      });
      if (lock !== null) return this.computeUnderLock(request, key, lock, compute);
      if (!this.fallback.available()) return this.computeAndKeep(key, compute, false);
      await this.waitForOtherProcess(lockKey, signal);
    }
  }

  private async computeUnderLock(
    request: FeatureLookupRequest,
    key: string,
    lock: HeldStoreLock,
    compute: () => Promise<ImageFeatures>,
  ): Promise<Resolution> {
    try {
      const fresh = await this.read(request, key);
      if (fresh !== null) return { features: fresh, computedHere: false };
      return await this.computeAndKeep(key, compute, true);
    } finally {
      await lock.release();
    }
  }

  /**
   * Polls the lock until it is gone — the holder deletes it right after writing the record, or it expires when the
   * holder died — or the store goes down; the caller then looks again and, finding nothing, claims the lock itself.
   */
  private async waitForOtherProcess(lockKey: string, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
      if ((await this.store.get(lockKey)) === null) return;
    }
  }

  private async computeAndKeep(key: string, compute: () => Promise<ImageFeatures>, writeStore: boolean): Promise<Resolution> {
    const { features, record } = this.throughStorage(await compute());
    // Read before the write: a reconnection during it starts a newer generation, and the next hit writes back again.
    const generation = this.store.generation;
    this.remember(key, features, writeStore ? generation : null);
    if (writeStore) await this.store.set(key, record, this.ttlSeconds);
    return { features, computedHere: true };
  }

  /** Encodes features as a record and returns them as that record decodes: what is served (see the invariants). */
  private throughStorage(features: ImageFeatures): { features: ImageFeatures; record: Buffer } {
    const record = encodeFeatureRecord(toTensors(features), this.storage);
    const decoded = decodeFeatureRecord(record, { hidden: this.shape.hidden, deepstackLayers: this.shape.deepstackLayers });
    if (!decoded.ok) throw new Error(`l1: features do not fit the model (${decoded.reason}: ${decoded.detail})`);
    return { features: fromRecord(decoded.record), record };
  }

  /**
   * An LRU hit under a store generation other than the one the entry was last stored in: the store may have lost it
   * (Redis restarted empty, or the entry was computed during an outage), and another process would then encode the
   * image again. So the entry goes back into the store, unless some process has put it there meanwhile (SET NX), for
   * the rest of its lifetime here. Fire-and-forget: the hit is served at once; a write that fails (the store down
   * again) is retried by a hit in the next generation.
   */
  private writeBackIfLost(key: string, entry: MemoryEntry): void {
    const generation = this.store.generation;
    if (entry.storedIn === generation || !this.store.isHealthy()) return;
    entry.storedIn = generation;
    const { features, record } = this.throughStorage(entry.features);
    // Other processes must read exactly what this one serves; re-encoding decoded features reproduces them in practice
    // (int8 recovers each row's scale), but a record that would decode differently is not written.
    if (!sameValues(features, entry.features)) {
      this.logger?.warn({ storage: this.storage }, "l1: features would not survive re-encoding unchanged; not written back");
      return;
    }
    const remainingSeconds = Math.max(1, Math.ceil((entry.expiresAt - Date.now()) / 1000));
    void this.store.setIfAbsent(key, record, remainingSeconds);
  }

  private async read(request: FeatureLookupRequest, key: string): Promise<ImageFeatures | null> {
    const entry = this.memory.get(key);
    if (entry !== undefined) {
      if (entry.expiresAt > Date.now()) {
        this.writeBackIfLost(key, entry);
        return entry.features;
      }
      this.memory.delete(key);
      this.publishBytes();
    }
    const generation = this.store.generation;
    const bytes = await this.store.get(key);
    if (bytes === null) return null;
    const decoded = decodeFeatureRecord(bytes, {
      hidden: this.shape.hidden,
      deepstackLayers: this.shape.deepstackLayers,
      ...(request.grid ? { gridThw: [request.grid.t, request.grid.h, request.grid.w] as const } : {}),
    });
    if (!decoded.ok || decoded.record.storedAs !== this.storage) {
      const reason = decoded.ok ? "dtype" : decoded.reason;
      droppedEntries.inc({ level: "l1", reason });
      this.logger?.warn(
        { imageId: request.identity.imageId, reason, detail: decoded.ok ? `stored as ${decoded.record.storedAs}` : decoded.detail },
        "l1: stored features failed their checks; dropped, recomputing",
      );
      await this.store.del(key);
      return null;
    }
    const features = fromRecord(decoded.record);
    this.remember(key, features, generation);
    return features;
  }

  private remember(key: string, features: ImageFeatures, storedIn: number | null): void {
    const bytes = features.features.byteLength + (features.deepstack?.byteLength ?? 0) + ENTRY_OVERHEAD_BYTES;
    this.memory.set(key, { features, expiresAt: Date.now() + this.ttlSeconds * 1000, storedIn }, bytes);
    this.publishBytes();
  }

  private publishBytes(): void {
    cacheBytes.set({ level: "l1" }, this.memory.bytes);
  }

  private featuresKey(request: FeatureLookupRequest): string {
    return l1FeaturesKey(request.tenant, this.fingerprint, request.identity);
  }

  private checkIdentity(identity: FeatureIdentity): void {
    if (identity.storage !== this.storage) {
      throw new RangeError(`l1: asked for ${identity.storage} features from a cache that stores ${this.storage}`);
    }
  }
}

function toTensors(features: ImageFeatures): FeatureTensors {
  const { grid, tokens, hidden } = features;
  const deepstackLayers = features.deepstack === null ? 0 : features.deepstack.length / (tokens * hidden);
  return {
    imageFeatures: { data: features.features, dims: [tokens, hidden] },
    deepstack: features.deepstack === null ? null : { data: features.deepstack, dims: [deepstackLayers, tokens, hidden] },
    gridThw: [grid.t, grid.h, grid.w],
  };
}

/** Bit-for-bit equality of the feature arrays (grids and shapes follow from them here). */
function sameValues(a: ImageFeatures, b: ImageFeatures): boolean {
  const bytes = (values: Float32Array | null) => (values === null ? Buffer.alloc(0) : Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  return bytes(a.features).equals(bytes(b.features)) && bytes(a.deepstack).equals(bytes(b.deepstack));
}

function fromRecord(record: FeatureRecord): ImageFeatures {
  const [t, h, w] = record.gridThw;
  const [tokens, hidden] = record.imageFeatures.dims;
  return { grid: { t, h, w }, tokens, hidden, features: record.imageFeatures.data, deepstack: record.deepstack?.data ?? null };
}
