/**
 * L3: whole answers of deterministic requests (greedy, or sampled with a fixed seed), replayed token for token.
 *
 * Key: `l3ResponseKey(tenant, model, digest)`, the digest covering the whole conversation after text normalisation
 * with images by feature key and the token-affecting generation parameters (responseIdentity.ts), plus `extra`: what
 * else the caller's generation depends on (e.g. repetition penalty, stop strings, where images sit between text parts).
 * Value: a response record (responseRecord.ts) with a TTL (1 h by default).
 *
 * Near duplicates (opt-in, off by default): each stored answer is also listed, with the SimHash of its newest turn,
 * in an index under `l3NearDuplicateKey(bucket)`, where the bucket fixes everything but the newest turn's text (the
 * same images, history, parameters). On an exact miss, the closest listed answer within `maxDistance` bits is served.
 *
 * Layers: Redis, written through to a byte-bounded in-process layer that answers while Redis is unreachable (counted
 * and logged, storeFallback.ts). Reads go to Redis whenever it is up, so a flush by any process is seen by all.
 *
 * Invariants: only deterministic requests are read or stored (`responseIdentity` returns null for the others: the
 * answer is "bypass"); a stored value that fails its checks is deleted and counts as a miss, never partly replayed.
 */

import { z } from "zod";
import { ByteLru } from "@/lib/cache/byteLru";
import { digestJson, type JsonValue } from "@/lib/cache/canonicalJson";
import { l3NearDuplicateKey, l3ResponseKey, levelPrefix } from "@/lib/cache/keys";
import {
  responseIdentity,
  type NearDuplicateDigest,
  type ResponseDigest,
  type ResponseIdentity,
  type ResponseIdentityInput,
} from "@/lib/cache/responseIdentity";
import { decodeResponseRecord, encodeResponseRecord, type ResponseRecord } from "@/lib/cache/responseRecord";
import { DEFAULT_NEAR_DUPLICATE_DISTANCE, hammingDistance, simHash, type SimHash64 } from "@/lib/cache/simhash";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { StoreFallback } from "@/lib/cache/storeFallback";
import type { ModelFingerprint, TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";
import {
  cacheBytes,
  cacheCapacityBytes,
  cacheEvictions,
  countLookup,
  droppedEntries,
} from "@/lib/metrics/cacheMetrics";

export const DEFAULT_L3_TTL_SECONDS = 60 * 60;
export const DEFAULT_L3_MEMORY_BYTES = 32 * 1024 * 1024;
/** Answers listed per near-duplicate bucket; the oldest drop out first. */
const NEAR_DUPLICATE_INDEX_SIZE = 32;
const ENTRY_OVERHEAD_BYTES = 128;

export interface NearDuplicateOptions {
  readonly enabled: boolean;
  /** Largest Hamming distance between the newest turns' SimHashes still served (default: simhash.ts). */
  readonly maxDistance?: number;
}

export interface ResponseCacheOptions {
  readonly store: BlobStore;
  readonly fingerprint: ModelFingerprint;
  readonly ttlSeconds?: number;
  readonly memoryBytes?: number;
  readonly nearDuplicates?: NearDuplicateOptions;
  readonly logger?: Logger;
}

export interface ResponseQuery extends ResponseIdentityInput {
  readonly tenant: TenantId;
  /** Whatever else decides the tokens besides the conversation and the core parameters; JSON, digested canonically. */
  readonly extra: JsonValue;
}

export type ResponseLookupResult =
  | { readonly result: "hit"; readonly record: ResponseRecord; readonly match: "exact" | "near" }
  | { readonly result: "miss" | "bypass" };

interface MemoryEntry {
  readonly value: Buffer;
  readonly expiresAt: number;
}

const nearIndexSchema = z.array(
  z.strictObject({ simhash: z.string().regex(/^[0-9a-f]{16}$/), digest: z.string().regex(/^[0-9a-f]{64}$/) }),
);
type NearIndex = { simhash: SimHash64; digest: ResponseDigest }[];

export class ResponseCache {
  readonly fingerprint: ModelFingerprint;
  private readonly shared: BlobStore;
  private readonly ttlSeconds: number;
  private readonly nearDuplicates: Required<NearDuplicateOptions>;
  private readonly memory: ByteLru<string, MemoryEntry>;
  private readonly fallback: StoreFallback;
  private readonly logger: Logger | undefined;

  constructor(options: ResponseCacheOptions) {
    this.shared = options.store;
    this.fingerprint = options.fingerprint;
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_L3_TTL_SECONDS;
    this.nearDuplicates = {
      enabled: options.nearDuplicates?.enabled ?? false,
      maxDistance: options.nearDuplicates?.maxDistance ?? DEFAULT_NEAR_DUPLICATE_DISTANCE,
    };
    this.logger = options.logger?.child({ module: "l3" });
    this.fallback = new StoreFallback("l3", this.shared, this.logger);
    this.memory = new ByteLru<string, MemoryEntry>({
      maxBytes: options.memoryBytes ?? DEFAULT_L3_MEMORY_BYTES,
      onEvict: () => cacheEvictions.inc({ level: "l3" }),
    });
    cacheCapacityBytes.set({ level: "l3" }, this.memory.maxBytes);
    this.publishBytes();
  }

  get memoryBytes(): number {
    return this.memory.bytes;
  }

  get nearDuplicatesEnabled(): boolean {
    return this.nearDuplicates.enabled;
  }

  async lookup(query: ResponseQuery): Promise<ResponseLookupResult> {
    const identity = this.identity(query);
    if (identity === null) return { result: "bypass" };
    const exact = await this.readRecord(l3ResponseKey(query.tenant, this.fingerprint, identity.digest));
    if (exact !== null) {
      countLookup("l3", "hit");
      return { result: "hit", record: exact, match: "exact" };
    }
    const near = this.nearDuplicates.enabled ? await this.nearest(query.tenant, identity) : null;
    countLookup("l3", near === null ? "miss" : "hit");
    return near === null ? { result: "miss" } : { result: "hit", record: near, match: "near" };
  }

  /** Stores a deterministic request's answer (no-op for a non-deterministic one). */
  async store(query: ResponseQuery, record: ResponseRecord): Promise<void> {
    const identity = this.identity(query);
    if (identity === null) return;
    await this.write(
      l3ResponseKey(query.tenant, this.fingerprint, identity.digest),
      Buffer.from(encodeResponseRecord(record)),
    );
    if (this.nearDuplicates.enabled) {
      const indexKey = l3NearDuplicateKey(query.tenant, this.fingerprint, identity.nearDuplicateBucket);
      const listed = (await this.readNearIndex(indexKey)).filter((entry) => entry.digest !== identity.digest);
      listed.push({ simhash: simHash(identity.newestTurnText), digest: identity.digest });
      await this.write(indexKey, Buffer.from(JSON.stringify(listed.slice(-NEAR_DUPLICATE_INDEX_SIZE))));
    }
  }

  /**
   * Admin flush, in-process part: drops the entries of `tenant` (every model) from process memory; returns how many.
   */
  forgetTenant(tenant: TenantId): number {
    const prefix = levelPrefix(tenant, "l3");
    const dropped = this.memory.deleteWhere((key) => key.startsWith(prefix));
    this.publishBytes();
    return dropped;
  }

  /** The request's identity with `extra` folded into both digests; null for a non-deterministic request. */
  private identity(query: ResponseQuery): ResponseIdentity | null {
    const base = responseIdentity(query);
    if (base === null) return null;
    return {
      digest: digestJson({ conversation: base.digest, extra: query.extra }) as ResponseDigest,
      nearDuplicateBucket: digestJson({ bucket: base.nearDuplicateBucket, extra: query.extra }) as NearDuplicateDigest,
      newestTurnText: base.newestTurnText,
    };
  }

  private async nearest(tenant: TenantId, identity: ResponseIdentity): Promise<ResponseRecord | null> {
    const listed = await this.readNearIndex(l3NearDuplicateKey(tenant, this.fingerprint, identity.nearDuplicateBucket));
    const target = simHash(identity.newestTurnText);
    const candidates = listed
      .map((entry) => ({ entry, distance: hammingDistance(entry.simhash, target) }))
      .filter(({ distance }) => distance <= this.nearDuplicates.maxDistance)
      .sort((a, b) => a.distance - b.distance);
    for (const { entry } of candidates) {
      const record = await this.readRecord(l3ResponseKey(tenant, this.fingerprint, entry.digest));
      if (record !== null) return record;
    }
    return null;
  }

  private async readRecord(key: string): Promise<ResponseRecord | null> {
    const bytes = await this.read(key);
    if (bytes === null) return null;
    const decoded = decodeResponseRecord(bytes.toString("utf8"));
    if (decoded.ok) return decoded.record;
    await this.drop(key, decoded.reason, decoded.detail);
    return null;
  }

  private async readNearIndex(key: string): Promise<NearIndex> {
    const bytes = await this.read(key);
    if (bytes === null) return [];
    try {
      const parsed = nearIndexSchema.safeParse(JSON.parse(bytes.toString("utf8")));
      if (parsed.success) return parsed.data as NearIndex;
      await this.drop(key, "schema", parsed.error.message);
    } catch (error) {
      await this.drop(key, "json", (error as Error).message);
    }
    return [];
  }

  /** Redis when reachable, the in-process layer otherwise. */
  private async read(key: string): Promise<Buffer | null> {
    if (this.fallback.available()) {
      const value = await this.shared.get(key);
      if (value !== null || this.shared.isHealthy()) return value;
      this.fallback.available();
    }
    const entry = this.memory.get(key);
    if (entry === undefined) return null;
    if (entry.expiresAt > Date.now()) return entry.value;
    this.memory.delete(key);
    this.publishBytes();
    return null;
  }

  private async write(key: string, value: Buffer): Promise<void> {
    this.memory.set(
      key,
      { value, expiresAt: Date.now() + this.ttlSeconds * 1000 },
      value.length + key.length + ENTRY_OVERHEAD_BYTES,
    );
    this.publishBytes();
    if (this.fallback.available()) await this.shared.set(key, value, this.ttlSeconds);
  }

  private async drop(key: string, reason: string, detail: string): Promise<void> {
    droppedEntries.inc({ level: "l3", reason });
    this.logger?.warn({ key, reason, detail }, "l3: stored entry failed its checks; dropped");
    this.memory.delete(key);
    this.publishBytes();
    await this.shared.del(key);
  }

  private publishBytes(): void {
    cacheBytes.set({ level: "l3" }, this.memory.bytes);
  }
}
