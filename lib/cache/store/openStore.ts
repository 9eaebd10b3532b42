import path from "node:path";
import type { AppConfig } from "@/lib/config";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { findRedisServerBinary, startRedisServer, type EmbeddedRedisServer } from "@/lib/cache/store/embeddedRedisServer";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";
import { RedisBlobStore, createRedisClient, redactRedisUrl, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import type { Logger } from "@/lib/log";

/** How the store was chosen (same words as /api/health's `redis.mode`): a Redis the operator runs (REDIS_URL), a
 *  redis-server started by vlcache, or process memory. */
export type StoreMode = "external" | "embedded" | "memory";

export interface OpenedStore {
  readonly store: BlobStore;
  readonly mode: StoreMode;
  /** One human sentence: what was chosen and why. */
  readonly description: string;
  /** Closes the store and stops an embedded redis-server. */
  close(): Promise<void>;
}

export type StoreConfig = Pick<AppConfig, "redisUrl" | "embeddedStore" | "cacheDir" | "memoryStoreMaxBytes">;

export interface OpenStoreDeps {
  /** Where redis-server is; injectable so the memory fallback is testable on a machine that has the binary. */
  findBinary?: () => string | null;
}

const EXTERNAL_CONNECT_WAIT_MS = 3_000;

/**
 * Chooses and opens the process's store, in this order:
 * 1. REDIS_URL set → that Redis (if it is not reachable yet, the store starts unhealthy and reconnects by itself);
 * 2. otherwise, unless EMBEDDED_STORE=memory, a private redis-server when the binary is on PATH;
 * 3. otherwise (or when that server fails to start) the in-process memory store.
 * Exactly one info line says which was chosen.
 */
export async function openStore(config: StoreConfig, logger: Logger, deps: OpenStoreDeps = {}): Promise<OpenedStore> {
  const log = logger.child({ module: "store" });

  if (config.redisUrl) {
    const client = createRedisClient(config.redisUrl);
    const store = new RedisBlobStore(client, log);
    const shown = redactRedisUrl(config.redisUrl);
    const ready = await waitUntilReady(client, EXTERNAL_CONNECT_WAIT_MS);
    const description = ready
      ? `store: Redis at ${shown} (REDIS_URL)`
      : `store: Redis at ${shown} (REDIS_URL), not reachable yet; retrying in the background`;
    log.info({ store: "external" }, description);
    return { store, mode: "external", description, close: () => store.close() };
  }

  let fallbackReason = "EMBEDDED_STORE=memory";
  if (config.embeddedStore !== "memory") {
    const binary = (deps.findBinary ?? findRedisServerBinary)();
    if (binary) {
      try {
        return await openEmbedded(binary, config, log);
      } catch (error) {
        fallbackReason = `redis-server failed to start (${(error as Error).message})`;
      }
    } else {
      fallbackReason = "redis-server not found on PATH (Debian package: redis-server)";
    }
    if (config.embeddedStore === "redis-server") {
      throw new Error(`EMBEDDED_STORE=redis-server but ${fallbackReason}`);
    }
  }

  const store = new MemoryBlobStore({ maxBytes: config.memoryStoreMaxBytes });
  const description = `store: in-process memory, data lost on exit (${fallbackReason})`;
  log.info({ store: "memory" }, description);
  return { store, mode: "memory", description, close: () => store.close() };
}

async function openEmbedded(binary: string, config: StoreConfig, log: Logger): Promise<OpenedStore> {
  const server: EmbeddedRedisServer = await startRedisServer({ binary, parentDir: path.join(config.cacheDir, "redis") });
  const client = createRedisClient(server.url);
  const store = new RedisBlobStore(client, log);
  if (!(await waitUntilReady(client, EXTERNAL_CONNECT_WAIT_MS))) {
    await store.close();
    await server.stop();
    throw new Error(`no connection to ${server.url}`);
  }
  const description = `store: embedded redis-server ${server.version} on ${server.url} (no persistence, data dir ${server.dataDir}, stopped with the app)`;
  log.info({ store: "embedded" }, description);
  return {
    store,
    mode: "embedded",
    description,
    close: async () => {
      await store.close();
      await server.stop();
    },
  };
}
