/**
 * The process-wide runtime: configuration, logger, store, the served model (loading in the background, see
 * modelRuntime.ts), chat sessions and the rate limiters, created once and shared by every route.
 *
 * Lifecycle: created lazily by the first `getRuntime()` (instrumentation.ts calls it at server start, so the store's
 * log line appears at start-up and the model starts loading at once); `stopRuntime()` releases the model, closes the
 * store and stops an embedded redis-server, after which the next `getRuntime()` creates a fresh one. A failed start is
 * not cached: the next call tries again.
 *
 * Why globalThis: Next.js evaluates instrumentation and each route bundle separately and re-evaluates modules on dev
 * reloads; a module-level variable would give each its own store (and its own redis-server). The slot under a global
 * symbol makes it one per process.
 *
 * No signal handlers are installed here (one would replace Node's default exit on SIGINT/SIGTERM): an embedded
 * redis-server stops when this process ends, however it ends (see embeddedRedisServer.ts).
 */

import { loadConfig, type AppConfig } from "@/lib/config";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { openStore, type StoreMode } from "@/lib/cache/store/openStore";
import { createModelCaches } from "@/lib/inference/modelCaches";
import { PixelBudget } from "@/lib/images/pixelBudget";
import { createLogger, type Logger } from "@/lib/log";
import type { ImagePrecompute } from "@/lib/server/images";
import { ModelHost } from "@/lib/server/modelRuntime";
import { FailedKeyThrottle } from "@/lib/server/failedKeys";
import { RateLimiter } from "@/lib/server/rateLimit";
import { SessionLocks } from "@/lib/server/sessionLocks";
import { SessionStore } from "@/lib/server/sessions";

export interface Runtime {
  readonly config: AppConfig;
  readonly logger: Logger;
  /** User data: images, sessions, session locks (see openStore.ts for the two stores' policies). */
  readonly store: BlobStore;
  /** Caches: L1 features, L3 answers, flush notices. The same store as `store` with REDIS_URL. */
  readonly cacheStore: BlobStore;
  readonly storeMode: StoreMode;
  readonly startedAt: Date;
  readonly model: ModelHost;
  /** Uploads' L1 precompute (the model host, which hands it to the served model's caches). */
  readonly precompute: ImagePrecompute;
  readonly sessions: SessionStore;
  /** Serialises the turns of one session, across every replica sharing the store (see chat.ts). */
  readonly sessionLocks: SessionLocks;
  readonly rateLimiter: RateLimiter;
  /** Refused API keys per client address (MAX_FAILED_KEYS_PER_MINUTE). */
  readonly failedKeys: FailedKeyThrottle;
  /** Pixels being decoded at once, by uploads and requests together (MAX_DECODING_PIXELS). */
  readonly decodeBudget: PixelBudget;
}

interface RuntimeSlot {
  starting?: Promise<{ runtime: Runtime; close: () => Promise<void> }>;
}

const SLOT_KEY = Symbol.for("vlcache.runtime");
const slot: RuntimeSlot = ((globalThis as typeof globalThis & { [SLOT_KEY]?: RuntimeSlot })[SLOT_KEY] ??= {});

async function start(): Promise<{ runtime: Runtime; close: () => Promise<void> }> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const opened = await openStore(config, logger);
  const { store, cacheStore } = opened;
  const decodeBudget = new PixelBudget(config.requestImages.decodingPixels);
  const model = ModelHost.start({
    config,
    store,
    cacheStore,
    logger,
    decodeBudget,
    createCaches: (served, shared, log) => createModelCaches(served, shared, config.caches, log),
  });
  const runtime: Runtime = {
    config,
    logger,
    store,
    cacheStore,
    storeMode: opened.mode,
    startedAt: new Date(),
    model,
    precompute: model,
    sessions: new SessionStore(store, {
      ttlSeconds: config.sessionTtlSeconds,
      firstTurnTtlSeconds: config.sessionFirstTurnTtlSeconds,
    }),
    sessionLocks: new SessionLocks(store, { logger }),
    rateLimiter: new RateLimiter(config.rateLimit),
    failedKeys: new FailedKeyThrottle(config.maxFailedKeysPerMinute),
    decodeBudget,
  };
  const close = async () => {
    await runtime.model.release();
    await opened.close();
  };
  return { runtime, close };
}

export async function getRuntime(): Promise<Runtime> {
  const starting = (slot.starting ??= start());
  try {
    return (await starting).runtime;
  } catch (error) {
    if (slot.starting === starting) slot.starting = undefined;
    throw error;
  }
}

export async function stopRuntime(): Promise<void> {
  const starting = slot.starting;
  slot.starting = undefined;
  if (!starting) return;
  const started = await starting.catch(() => null);
  await started?.close();
}
