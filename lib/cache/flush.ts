/**
 * Admin flush: removes one tenant's entries from the chosen levels, for every model and in every process sharing the
 * store — the store's keys under `levelPrefix(tenant, level)` (L1 features and encode locks, L2's KV blocks, L3 answers
 * and near-duplicate indexes) and every process's in-process entries (L1 LRU, L2 prefix tree, L3 memory layer). Other
 * tenants are untouched.
 *
 * How it reaches other processes: after deleting the store's keys and this process's entries, `flushCaches` publishes
 * a notice `{tenant, levels}` on `FLUSH_CHANNEL`; every process's caches follow that channel (`followFlushes`, set up
 * with the caches) and forget the tenant's entries at those levels. The notice goes out only after the keys are gone,
 * so no process can reload a flushed entry from the store after hearing it; the flushing process hears its own notice
 * too and forgets once more, which also drops what one of its requests read from the store just before the delete.
 *
 * Limits: a process cut off from Redis when the notice is published misses it and keeps its in-process copies (and,
 * as L1 writes LRU-served entries back after a reconnection, may put such an entry back in Redis). Without a served
 * model (`levels` null) this process flushes the store and still notifies the others.
 */

import { z } from "zod";
import { CACHE_LEVELS, type CacheLevel } from "@/lib/api/types";
import { KEY_ROOT, levelPrefix } from "@/lib/cache/keys";
import type { FeatureCache } from "@/lib/cache/l1Features";
import type { PrefixKvCache } from "@/lib/cache/l2PrefixKv";
import type { ResponseCache } from "@/lib/cache/l3Responses";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { parseTenantId, type TenantId } from "@/lib/ids";
import type { Logger } from "@/lib/log";

export interface FlushTargets {
  readonly store: BlobStore;
  readonly levels: CacheLevels | null;
}

/** One process's in-process cache levels of one served model. */
export interface CacheLevels {
  readonly features: FeatureCache;
  readonly prefix: PrefixKvCache;
  readonly responses: ResponseCache;
}

export interface LevelFlush {
  /** Keys removed from the shared store (for L2: the store tier's KV blocks). */
  readonly storeEntries: number;
  /** Entries (L1, L3) or bytes (L2) dropped from this process (other processes drop theirs when the notice arrives). */
  readonly inProcess: number;
}

export type FlushReport = Partial<Record<CacheLevel, LevelFlush>>;

/** Where flush notices go: a Redis channel name under the versioned key root. */
export const FLUSH_CHANNEL = `${KEY_ROOT}:flush`;

const flushNoticeSchema = z.strictObject({ tenant: z.string(), levels: z.array(z.enum(CACHE_LEVELS)) });

export async function flushCaches(
  targets: FlushTargets,
  tenant: TenantId,
  levels: readonly CacheLevel[],
): Promise<FlushReport> {
  const report: FlushReport = {};
  const chosen = [...new Set(levels)];
  for (const level of chosen) {
    // Strict: a flush the store could not do must not be reported as done (StoreUnavailableError reaches the caller).
    const storeEntries = await targets.store.strict.deleteByPrefix(levelPrefix(tenant, level));
    report[level] = { storeEntries, inProcess: targets.levels === null ? 0 : forget(targets.levels, level, tenant) };
  }
  await targets.store.publish(FLUSH_CHANNEL, JSON.stringify({ tenant, levels: chosen }));
  return report;
}

/**
 * Makes `levels` forget a tenant's entries whenever any process sharing `store` flushes them (this one included), until
 * the returned function is called. A malformed notice is logged and ignored.
 */
export function followFlushes(store: BlobStore, levels: CacheLevels, logger?: Logger): () => void {
  return store.subscribe(FLUSH_CHANNEL, (message) => {
    const notice = parseFlushNotice(message);
    if (notice === null) {
      logger?.warn({ notice: message.slice(0, 200) }, "flush: ignored a malformed flush notice");
      return;
    }
    for (const level of notice.levels) forget(levels, level, notice.tenant);
  });
}

function parseFlushNotice(message: string): { tenant: TenantId; levels: CacheLevel[] } | null {
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return null;
  }
  const parsed = flushNoticeSchema.safeParse(json);
  const tenant = parsed.success ? parseTenantId(parsed.data.tenant) : null;
  return parsed.success && tenant !== null ? { tenant, levels: parsed.data.levels } : null;
}

function forget(levels: CacheLevels, level: CacheLevel, tenant: TenantId): number {
  switch (level) {
    case "l1":
      return levels.features.forgetTenant(tenant);
    case "l2":
      return levels.prefix.forgetTenant(tenant);
    case "l3":
      return levels.responses.forgetTenant(tenant);
  }
}
