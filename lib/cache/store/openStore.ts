import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { AppConfig, RedisClusterNode } from "@/lib/config";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { claimDataDir } from "@/lib/cache/store/dataDirLock";
import { findRedisServerBinary } from "@/lib/cache/store/embeddedRedisServer";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";
import {
  RedisBlobStore,
  createRedisClient,
  createRedisClusterClient,
  redactRedisUrl,
  waitUntilReady,
} from "@/lib/cache/store/redisBlobStore";
import { clusterShape } from "@/lib/cache/store/redisTopology";
import { superviseRedisServer, type SupervisedRedisServer } from "@/lib/cache/store/supervisedRedisServer";
import type { Logger } from "@/lib/log";

/** How the store was chosen (same words as /api/health's `redis.mode`): a Redis or Redis Cluster the operator runs
 *  (REDIS_URL, REDIS_CLUSTER_NODES), redis-servers started by vlcache, or process memory. */
export type StoreMode = "external" | "embedded" | "memory";

/**
 * The process's stores. User data and caches are kept apart because they need opposite policies when memory runs
 * out: caches give way (least recently used first), user data is never evicted before its TTL, and a full user store
 * refuses new data (StoreFullError → 507 store_full). With REDIS_URL both are the same Redis, whose limits and
 * persistence are the operator's. With REDIS_CLUSTER_NODES both are the same Redis Cluster (their keys never overlap:
 * user data lives under `image:`/`session:` keys, caches under level keys, lib/cache/keys.ts), over two clients so
 * that user data writes waiting for a replica never hold up cache traffic.
 */
export interface OpenedStore {
  /** User data: images, sessions and session locks; persisted when embedded. */
  readonly store: BlobStore;
  /** Caches: L1 features, L3 answers (and their locks), flush notices; may lose anything at any time. */
  readonly cacheStore: BlobStore;
  readonly mode: StoreMode;
  /** One human sentence: what was chosen and why. */
  readonly description: string;
  /** The supervised redis-servers of the embedded mode (null otherwise). */
  readonly embedded: { readonly user: SupervisedRedisServer; readonly cache: SupervisedRedisServer } | null;
  /** Closes the stores and stops embedded redis-servers. */
  close(): Promise<void>;
}

export type StoreConfig = Pick<
  AppConfig,
  | "redisUrl"
  | "redisClusterNodes"
  | "embeddedStore"
  | "cacheDir"
  | "storeTimeoutMs"
  | "userStoreMaxBytes"
  | "cacheStoreMaxBytes"
>;

export interface OpenStoreDeps {
  /** Where redis-server is; injectable so the memory fallback is testable on a machine that has the binary. */
  findBinary?: () => string | null;
}

const EXTERNAL_CONNECT_WAIT_MS = 3_000;
/** A persistent server loads its append-only file before it is ready; a large one takes a while. */
const USER_SERVER_READY_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;

/**
 * Chooses and opens the process's stores, in this order:
 * 1. REDIS_URL set → that Redis for both (if it is not reachable yet, it starts unhealthy and reconnects by itself);
 *    REDIS_CLUSTER_NODES set → that Redis Cluster for both, user data writes waiting for a replica (the same);
 * 2. otherwise, unless EMBEDDED_STORE=memory, two private redis-servers when the binary is on PATH: user data with an
 *    append-only file in CACHE_DIR/redis/user and the noeviction policy, caches without persistence and with LRU
 *    eviction, each within its budget and restarted when it dies (supervisedRedisServer.ts);
 * 3. otherwise (or when those fail to start) two in-process stores with the same policies, lost on exit.
 * Exactly one info line says which was chosen.
 */
export async function openStore(config: StoreConfig, logger: Logger, deps: OpenStoreDeps = {}): Promise<OpenedStore> {
  const log = logger.child({ module: "store" });

  if (config.redisUrl) {
    const client = createRedisClient(config.redisUrl);
    const store = new RedisBlobStore(client, log, config.storeTimeoutMs);
    const shown = redactRedisUrl(config.redisUrl);
    const ready = await waitUntilReady(client, EXTERNAL_CONNECT_WAIT_MS);
    const description = ready
      ? `store: Redis at ${shown} (REDIS_URL)`
      : `store: Redis at ${shown} (REDIS_URL), not reachable yet; retrying in the background`;
    log.info({ store: "external" }, description);
    return { store, cacheStore: store, mode: "external", description, embedded: null, close: () => store.close() };
  }
  if (config.redisClusterNodes) {
    return openCluster(config.redisClusterNodes, config, log);
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

  const store = new MemoryBlobStore({ maxBytes: config.userStoreMaxBytes, whenFull: "refuse" });
  const cacheStore = new MemoryBlobStore({ maxBytes: config.cacheStoreMaxBytes });
  const description = `store: in-process memory, data lost on exit (${fallbackReason}); ${budgets(config)}`;
  log.info({ store: "memory" }, description);
  return apart(store, cacheStore, "memory", description);
}

/** Two stores opened here, neither embedded: closing closes both. */
function apart(store: BlobStore, cacheStore: BlobStore, mode: StoreMode, description: string): OpenedStore {
  return {
    store,
    cacheStore,
    mode,
    description,
    embedded: null,
    close: async () => {
      await store.close();
      await cacheStore.close();
    },
  };
}

async function openCluster(
  seedNodes: readonly RedisClusterNode[],
  config: StoreConfig,
  log: Logger,
): Promise<OpenedStore> {
  const userClient = createRedisClusterClient(seedNodes);
  const cacheClient = createRedisClusterClient(seedNodes);
  const store = new RedisBlobStore(userClient, log.child({ storeName: "user" }), config.storeTimeoutMs, {
    waitForReplica: true,
  });
  const cacheStore = new RedisBlobStore(cacheClient, log.child({ storeName: "cache" }), config.storeTimeoutMs);
  const shown = seedNodes
    .map((node) => (node.host.includes(":") ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`))
    .join(",");
  const ready = (
    await Promise.all([userClient, cacheClient].map((client) => waitUntilReady(client, EXTERNAL_CONNECT_WAIT_MS)))
  ).every(Boolean);
  const shape = clusterShape(userClient);
  const topology = ready
    ? `${shape.masters} masters, ${shape.replicas} replicas`
    : "not reachable yet; retrying in the background";
  const description = `store: Redis Cluster via ${shown} (REDIS_CLUSTER_NODES), ${topology}; user data writes wait for one replica`;
  log.info({ store: "external" }, description);
  return apart(store, cacheStore, "external", description);
}

function budgets(config: StoreConfig): string {
  return `user data within ${Math.round(config.userStoreMaxBytes / MIB)} MiB (refused when full), caches within ${Math.round(config.cacheStoreMaxBytes / MIB)} MiB (least recently used evicted)`;
}

async function openEmbedded(binary: string, config: StoreConfig, log: Logger): Promise<OpenedStore> {
  const redisDir = path.join(config.cacheDir, "redis");
  const userDir = path.join(redisDir, "user");
  await mkdir(userDir, { recursive: true });
  const releaseDir = await claimDataDir(userDir);
  /** What is running so far, undone in reverse order by close() or a failed start. */
  const undo: Array<() => Promise<void>> = [releaseDir];
  const stopAll = async () => {
    for (const step of undo.splice(0).reverse()) await step();
  };
  try {
    const user = await superviseRedisServer({
      name: "user",
      logger: log,
      binary,
      parentDir: redisDir,
      persistentDir: userDir,
      maxMemoryBytes: config.userStoreMaxBytes,
      evictionPolicy: "noeviction",
      readyTimeoutMs: USER_SERVER_READY_TIMEOUT_MS,
    });
    undo.push(() => user.stop());
    const cache = await superviseRedisServer({
      name: "cache",
      logger: log,
      binary,
      parentDir: redisDir,
      maxMemoryBytes: config.cacheStoreMaxBytes,
      evictionPolicy: "allkeys-lru",
    });
    undo.push(() => cache.stop());
    const [store, cacheStore] = await Promise.all(
      [user, cache].map((server) => connect(server, config, log.child({ storeName: server.name }), undo)),
    );
    const description =
      `store: embedded redis-server ${user.version}: user data on ${user.url} (append-only file in ${userDir}), ` +
      `caches on ${cache.url} (no persistence); ${budgets(config)}; restarted when they die, stopped with the app`;
    log.info({ store: "embedded" }, description);
    return { store, cacheStore, mode: "embedded", description, embedded: { user, cache }, close: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** A store over a fresh connection to `server`, once connected; its close() joins `undo`. */
async function connect(
  server: SupervisedRedisServer,
  config: StoreConfig,
  log: Logger,
  undo: Array<() => Promise<void>>,
): Promise<BlobStore> {
  const client = createRedisClient(server.url);
  const store = new RedisBlobStore(client, log, config.storeTimeoutMs);
  undo.push(() => store.close());
  if (!(await waitUntilReady(client, EXTERNAL_CONNECT_WAIT_MS))) throw new Error(`no connection to ${server.url}`);
  return store;
}
