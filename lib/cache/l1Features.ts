/**
 * L1: one image's vision features (image features, DeepStack rows, grid), computed at most once per model, image,
 * preprocessing and storage dtype, and shared by every process on the same Redis. Three parts, composed here:
 * - featureStore.ts: where features live (in-process LRU in front of Redis records; checks, write-back after a
 *   restart);
 * - computeOnce.ts: who computes a missing entry (in-process single flight, an owner-checked lock in the store, waiting
 *   for another process's encode; computing here alone while the store is down);
 * - precomputeStatus.ts: what became of upload-time precomputes (`encoding` → `ready`).
 *
 * Invariants:
 * - Whatever is served went through the storage dtype (featureStore.ts), so an fp16 or int8 configuration answers a
 *   first (computed) request exactly like every later (cached) one, and KV built from them (L2) is the same either way.
 * - The vision encoder runs only inside `compute`; one key is computed at most once at a time per process and, while
 *   the store is up, across processes (computeOnce.ts states the exact bound).
 * Look-ups and saved encoder runs are counted by the features seam's recorder (cacheMetrics.ts), not here.
 *
 * Precompute (uploads): `precompute` starts `getOrCompute` in the background and records its state, which
 * `precomputeState` reports as `encoding` → `ready` with the time it took; a request arriving meanwhile joins the same
 * flight and reports its features as `precomputed`.
 */

import type { FeatureSource } from "@/lib/api/types";
import { ComputeOnce, type ComputeOnceJob } from "@/lib/cache/computeOnce";
import type { FeatureIdentity } from "@/lib/cache/featureIdentity";
import type { FeatureDtype } from "@/lib/cache/featureRecord";
import { FeatureStore } from "@/lib/cache/featureStore";
import { l1FeaturesKey, l1LockKey } from "@/lib/cache/keys";
import { PrecomputeStatus, type PrecomputeState } from "@/lib/cache/precomputeStatus";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { StoreFallback } from "@/lib/cache/storeFallback";
import type { ModelFingerprint, TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";

export const DEFAULT_L1_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_L1_MEMORY_BYTES = 256 * 1024 * 1024;
export const DEFAULT_L1_LOCK_TTL_SECONDS = 10;
const DEFAULT_POLL_INTERVAL_MS = 20;

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

export class FeatureCache {
  readonly storage: FeatureDtype;
  readonly fingerprint: ModelFingerprint;
  private readonly store: BlobStore;
  private readonly logger: Logger | undefined;
  private readonly features: FeatureStore;
  private readonly once: ComputeOnce<ImageFeatures>;
  private readonly precomputes = new PrecomputeStatus();

  constructor(options: FeatureCacheOptions) {
    this.store = options.store;
    this.fingerprint = options.fingerprint;
    this.storage = options.storage ?? "fp32";
    this.logger = options.logger?.child({ module: "l1" });
    this.features = new FeatureStore({
      store: options.store,
      shape: options.shape,
      storage: this.storage,
      ttlSeconds: options.ttlSeconds ?? DEFAULT_L1_TTL_SECONDS,
      memoryBytes: options.memoryBytes ?? DEFAULT_L1_MEMORY_BYTES,
      logger: this.logger,
    });
    this.once = new ComputeOnce<ImageFeatures>({
      store: options.store,
      fallback: new StoreFallback("l1", options.store, this.logger),
      lockTtlSeconds: options.lockTtlSeconds ?? DEFAULT_L1_LOCK_TTL_SECONDS,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    });
  }

  /** Bytes held in process (decoded features plus bookkeeping); never above `memoryBudgetBytes`. */
  get memoryBytes(): number {
    return this.features.memoryBytes;
  }

  get memoryBudgetBytes(): number {
    return this.features.memoryBudgetBytes;
  }

  /** The features of one image, from the cache or computed once (see computeOnce.ts for the steps). */
  async getOrCompute(
    request: FeatureLookupRequest,
    compute: () => Promise<ImageFeatures>,
    options: GetOrComputeOptions = {},
  ): Promise<FeatureAnswer> {
    this.checkIdentity(request.identity);
    if (options.useCache === false) {
      return { features: this.features.throughStorage(await compute()).features, source: "computed" };
    }
    const key = this.featuresKey(request);
    const resolution = await this.once.run(key, this.job(request, key, compute, options.signal));
    if (this.precomputes.claimFirstServe(key)) return { features: resolution.value, source: "precomputed" };
    return { features: resolution.value, source: resolution.computedHere ? "computed" : "l1" };
  }

  /** Cached features only (LRU, then store); null on a miss. Never computes, never waits on a lock. */
  async lookup(request: FeatureLookupRequest): Promise<ImageFeatures | null> {
    this.checkIdentity(request.identity);
    return this.features.read(this.featuresKey(request), request.grid, request.identity.imageId);
  }

  /**
   * Starts computing an image's features in the background (an upload); returns at once, with `ready` when they are
   * already in process memory. Errors are logged, not thrown: a request that needs the features computes them itself.
   */
  precompute(request: FeatureLookupRequest, compute: () => Promise<ImageFeatures>): PrecomputeState["status"] {
    this.checkIdentity(request.identity);
    const key = this.featuresKey(request);
    if (this.precomputes.isEncoding(key)) return "encoding";
    // Uploaded again while its features are at hand: nothing to encode.
    if (this.features.inMemory(key)) return "ready";
    const settle = this.precomputes.start(key);
    const joined = this.once.isRunning(key);
    // Settled inside the flight, so a request that joined it sees `ready` as soon as it has its features.
    const flight = this.once.run(key, this.job(request, key, compute, undefined), settle);
    if (joined) flight.then(settle, () => settle(null));
    flight.catch((error: unknown) => {
      this.logger?.error(
        { err: error, imageId: request.identity.imageId },
        "l1: precompute failed; the first request will compute the features",
      );
    });
    return "encoding";
  }

  /**
   * Precompute state of an image for GET /api/images/:id: `encoding` while this process computes it or another
   * process holds its encode lock, else `ready` (with the time it took when this process encoded it).
   */
  async precomputeState(request: FeatureLookupRequest): Promise<PrecomputeState> {
    this.checkIdentity(request.identity);
    const state = this.precomputes.state(this.featuresKey(request));
    if (state !== null) return state;
    const lock = await this.store.get(l1LockKey(request.tenant, this.fingerprint, request.identity));
    return lock !== null ? { status: "encoding", startedAt: Date.now() } : { status: "ready", encodingMs: null };
  }

  /**
   * Admin flush, in-process part: drops the entries of `tenant` (every model) from process memory; returns how many.
   */
  forgetTenant(tenant: TenantId): number {
    return this.features.forgetTenant(tenant);
  }

  private job(
    request: FeatureLookupRequest,
    key: string,
    compute: () => Promise<ImageFeatures>,
    signal: AbortSignal | undefined,
  ): ComputeOnceJob<ImageFeatures> {
    const imageId = request.identity.imageId;
    return {
      lockKey: l1LockKey(request.tenant, this.fingerprint, request.identity),
      find: () => this.features.read(key, request.grid, imageId),
      computeAndKeep: async (shared) => this.features.keep(key, await compute(), shared),
      signal,
      onLockLost: () =>
        this.logger?.warn(
          { imageId },
          "l1: encode lock lost while encoding (expired or Redis restarted); another process may encode this image too",
        ),
    };
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
