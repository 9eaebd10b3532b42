import { levelPrefix, type CacheLevel } from "@/lib/cache/keys";
import type { FeatureCache } from "@/lib/cache/l1Features";
import type { PrefixKvCache } from "@/lib/cache/l2PrefixKv";
import type { ResponseCache } from "@/lib/cache/l3Responses";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import type { TenantId } from "@/lib/ids";

/**
 * Admin flush: removes one tenant's entries from the chosen levels, for every model — the shared store's keys under
 * `levelPrefix(tenant, level)` (L1 features and encode locks, L3 answers and near-duplicate indexes) and this
 * process's in-process entries (L1 LRU, L2 prefix tree, L3 memory layer). Other tenants are untouched.
 *
 * Without a served model (`levels` null) only the store is flushed. Other processes sharing the store keep their own
 * in-process L1 copies until they evict them, and their own L2 trees; L3 reads Redis first, so its flush is seen
 * everywhere at once.
 */
export interface FlushTargets {
  readonly store: BlobStore;
  readonly levels: { readonly features: FeatureCache; readonly prefix: PrefixKvCache; readonly responses: ResponseCache } | null;
}

export interface LevelFlush {
  /** Keys removed from the shared store (0 for L2, which lives in process only). */
  readonly storeEntries: number;
  /** Entries (L1, L3) or bytes (L2) dropped from this process. */
  readonly inProcess: number;
}

export type FlushReport = Partial<Record<CacheLevel, LevelFlush>>;

export async function flushCaches(targets: FlushTargets, tenant: TenantId, levels: readonly CacheLevel[]): Promise<FlushReport> {
  const report: FlushReport = {};
  for (const level of new Set(levels)) {
    const storeEntries = level === "l2" ? 0 : await targets.store.deleteByPrefix(levelPrefix(tenant, level));
    report[level] = { storeEntries, inProcess: forget(targets.levels, level, tenant) };
  }
  return report;
}

function forget(levels: FlushTargets["levels"], level: CacheLevel, tenant: TenantId): number {
  if (levels === null) return 0;
  switch (level) {
    case "l1":
      return levels.features.forgetTenant(tenant);
    case "l2":
      return levels.prefix.forgetTenant(tenant);
    case "l3":
      return levels.responses.forgetTenant(tenant);
  }
}
