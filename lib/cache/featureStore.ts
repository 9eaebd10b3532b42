/**
 * Where L1's vision features live: an in-process LRU bounded in bytes (decoded features, ready to use) in front of the
 * store (Redis), where each entry is a feature record (featureRecord.ts) under its `l1FeaturesKey` with a TTL (24 h by
 * default). An entry found only in the store is decoded, checked and copied to the LRU. Each LRU entry remembers the
 * store generation (BlobStore.generation) it was last known stored in; an LRU hit under another generation — Redis
 * reconnected, maybe restarted empty, or the entry was computed while it was down — writes the entry back (SET NX, in
 * the background), so other processes sharing the store find it instead of encoding the image again.
 *
 * Invariants:
 * - Whatever is served went through the storage dtype (`throughStorage`): freshly computed features are encoded as a
 *   record and served as it decodes (fp32: the features themselves, which it decodes to), so an fp16 or int8 store
 *   answers a first (computed) request exactly like every later (cached) one.
 * - A stored record that fails any check (checksum, header, version, shape against the model and the image's grid,
 *   dtype) is deleted and reported as a miss, never partly used.
 * - `memoryBytes` ≤ `memoryBudgetBytes`; the `vlcache_cache_bytes{level="l1"}` gauge follows it.
 * Computing features and deciding who computes them is not this module's job (l1Features.ts).
 */

import { ByteLru } from "@/lib/cache/byteLru";
import {
  decodeFeatureRecord,
  encodeFeatureRecord,
  tensorsShapeMismatch,
  type FeatureDtype,
  type FeatureRecord,
  type FeatureTensors,
} from "@/lib/cache/featureRecord";
import { levelPrefix } from "@/lib/cache/keys";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import type { TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";
import { cacheBytes, cacheCapacityBytes, cacheEvictions, droppedEntries } from "@/lib/metrics/cacheMetrics";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";
import { timeStage } from "@/lib/stageTimes";

export interface FeatureStoreOptions {
  readonly store: BlobStore;
  /** What every record of this model must hold: hidden width and number of DeepStack layers (0 without DeepStack). */
  readonly shape: { readonly hidden: number; readonly deepstackLayers: number };
  readonly storage: FeatureDtype;
  readonly ttlSeconds: number;
  readonly memoryBytes: number;
  readonly logger?: Logger;
}

/** Fixed per-entry bookkeeping counted on top of the feature arrays. */
const ENTRY_OVERHEAD_BYTES = 256;

interface MemoryEntry {
  readonly features: ImageFeatures;
  readonly expiresAt: number;
  /** The store generation in which this entry was last known to be in the store; null: never stored (outage). */
  storedIn: number | null;
}

export class FeatureStore {
  readonly storage: FeatureDtype;
  private readonly store: BlobStore;
  private readonly shape: FeatureStoreOptions["shape"];
  private readonly ttlSeconds: number;
  private readonly logger: Logger | undefined;
  private readonly memory: ByteLru<string, MemoryEntry>;

  constructor(options: FeatureStoreOptions) {
    this.store = options.store;
    this.shape = options.shape;
    this.storage = options.storage;
    this.ttlSeconds = options.ttlSeconds;
    this.logger = options.logger;
    this.memory = new ByteLru<string, MemoryEntry>({
      maxBytes: options.memoryBytes,
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

  /** Whether `key` is in process memory (expired entries included until next read). */
  inMemory(key: string): boolean {
    return this.memory.has(key);
  }

  /**
   * The features under `key` from process memory, else from the store (checked against the model's shape and, when
   * given, the image's grid); null on a miss. `imageId` only names the image in log lines.
   */
  async read(key: string, grid: ImageGrid | undefined, imageId: string): Promise<ImageFeatures | null> {
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
      ...(grid ? { gridThw: [grid.t, grid.h, grid.w] as const } : {}),
    });
    if (!decoded.ok || decoded.record.storedAs !== this.storage) {
      const reason = decoded.ok ? "dtype" : decoded.reason;
      droppedEntries.inc({ level: "l1", reason });
      this.logger?.warn(
        { imageId, reason, detail: decoded.ok ? `stored as ${decoded.record.storedAs}` : decoded.detail },
        "l1: stored features failed their checks; dropped, recomputing",
      );
      await this.store.del(key);
      return null;
    }
    const features = fromRecord(decoded.record);
    this.remember(key, features, generation);
    return features;
  }

  /**
   * Keeps freshly computed features under `key` — in process memory, and in the store too when `shared` — and returns
   * them as served: through the storage dtype.
   */
  keep(key: string, computed: ImageFeatures, shared: boolean): Promise<ImageFeatures> {
    return timeStage("l1_write", async () => {
      const { features, record } = this.throughStorage(computed);
      // Read before the write: a reconnection during it starts a newer generation, and the next hit writes back again.
      const generation = this.store.generation;
      this.remember(key, features, shared ? generation : null);
      if (shared) await this.store.set(key, record, this.ttlSeconds);
      return features;
    });
  }

  /** Encodes features as a record and returns them as that record decodes: what is served (see the invariants). */
  throughStorage(features: ImageFeatures): { features: ImageFeatures; record: Buffer } {
    const tensors = toTensors(features);
    const record = encodeFeatureRecord(tensors, this.storage);
    const expected = { hidden: this.shape.hidden, deepstackLayers: this.shape.deepstackLayers };
    const unfit = (why: string) => new Error(`l1: features do not fit the model (${why})`);
    if (this.storage === "fp32") {
      // An fp32 record holds the values' bytes as they are (encoding refuses non-finite ones): it decodes to `features`
      // themselves. Decoding it would only run CRC-32 over it again and copy it — 25 MB for a 1024×768 image at the
      // 2b preset's width, between a cold request's first and second token — and leave one more copy to collect.
      const mismatch = tensorsShapeMismatch(tensors, expected);
      if (mismatch !== null) throw unfit(`shape-mismatch: ${mismatch}`);
      return { features, record };
    }
    const decoded = decodeFeatureRecord(record, expected);
    if (!decoded.ok) throw unfit(`${decoded.reason}: ${decoded.detail}`);
    return { features: fromRecord(decoded.record), record };
  }

  /**
   * Admin flush, in-process part: drops the entries of `tenant` (every model) from process memory; returns how many.
   */
  forgetTenant(tenant: TenantId): number {
    const prefix = levelPrefix(tenant, "l1");
    const dropped = this.memory.deleteWhere((key) => key.startsWith(prefix));
    this.publishBytes();
    return dropped;
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
      this.logger?.warn(
        { storage: this.storage },
        "l1: features would not survive re-encoding unchanged; not written back",
      );
      return;
    }
    const remainingSeconds = Math.max(1, Math.ceil((entry.expiresAt - Date.now()) / 1000));
    void this.store.setIfAbsent(key, record, remainingSeconds);
  }

  private remember(key: string, features: ImageFeatures, storedIn: number | null): void {
    const bytes = features.features.byteLength + (features.deepstack?.byteLength ?? 0) + ENTRY_OVERHEAD_BYTES;
    this.memory.set(key, { features, expiresAt: Date.now() + this.ttlSeconds * 1000, storedIn }, bytes);
    this.publishBytes();
  }

  private publishBytes(): void {
    cacheBytes.set({ level: "l1" }, this.memory.bytes);
  }
}

function toTensors(features: ImageFeatures): FeatureTensors {
  const { grid, tokens, hidden } = features;
  const deepstackLayers = features.deepstack === null ? 0 : features.deepstack.length / (tokens * hidden);
  return {
    imageFeatures: { data: features.features, dims: [tokens, hidden] },
    deepstack:
      features.deepstack === null ? null : { data: features.deepstack, dims: [deepstackLayers, tokens, hidden] },
    gridThw: [grid.t, grid.h, grid.w],
  };
}

/** Bit-for-bit equality of the feature arrays (grids and shapes follow from them here). */
function sameValues(a: ImageFeatures, b: ImageFeatures): boolean {
  const bytes = (values: Float32Array | null) =>
    values === null ? Buffer.alloc(0) : Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return bytes(a.features).equals(bytes(b.features)) && bytes(a.deepstack).equals(bytes(b.deepstack));
}

function fromRecord(record: FeatureRecord): ImageFeatures {
  const [t, h, w] = record.gridThw;
  const [tokens, hidden] = record.imageFeatures.dims;
  return {
    grid: { t, h, w },
    tokens,
    hidden,
    features: record.imageFeatures.data,
    deepstack: record.deepstack?.data ?? null,
  };
}
