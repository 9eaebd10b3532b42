/**
 * How L1 and L3 notice that the shared store (Redis) is down and say so: every operation that had to make do with the
 * in-process layer alone is counted in `vlcache_cache_store_fallbacks_total{level}`, and one log line marks each
 * change — the first fall-back of an outage (warn) and the first operation that finds the store back (info).
 *
 * Recovery needs nothing from here: the store reconnects by itself (RedisBlobStore) and the next operation that finds
 * it healthy uses it again.
 */

import type { CacheLevel } from "@/lib/api/types";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import type { Logger } from "@/lib/log";
import { storeFallbacks } from "@/lib/metrics/cacheMetrics";

export class StoreFallback {
  private degraded = false;

  constructor(
    private readonly level: Extract<CacheLevel, "l1" | "l3">,
    private readonly store: BlobStore,
    private readonly logger: Logger | undefined,
  ) {}

  /** True while the store is reachable; otherwise counts one fall-back (and logs the first of an outage). */
  available(): boolean {
    if (this.store.isHealthy()) {
      if (this.degraded) {
        this.degraded = false;
        this.logger?.info({ cacheLevel: this.level }, `${this.level}: shared store reachable again; using it`);
      }
      return true;
    }
    storeFallbacks.inc({ level: this.level });
    if (!this.degraded) {
      this.degraded = true;
      this.logger?.warn(
        { cacheLevel: this.level },
        `${this.level}: shared store unreachable; serving from the in-process layer until it is back`,
      );
    }
    return false;
  }
}
