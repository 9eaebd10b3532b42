import { Cluster, Redis } from "ioredis";
import { DEFAULT_STORE_TIMEOUT_MS, type RedisClusterNode } from "@/lib/config";
import { ProgressDeadline } from "@/lib/cache/store/progressDeadline";
import {
  assertValidTtl,
  isStoreUnavailable,
  StoreFullError,
  StoreUnavailableError,
  type BlobStore,
  type StoreOp,
  type StrictStoreOps,
} from "@/lib/cache/store/blobStore";
import { ChannelListeners, type MessageListener } from "@/lib/cache/store/channelListeners";
import {
  bytesMoved,
  commandNode,
  findNode,
  isCluster,
  masterNodes,
  nodeAddress,
  replicaCount,
  type RedisClient,
} from "@/lib/cache/store/redisTopology";
import type { Logger } from "@/lib/log";
import { counter } from "@/lib/metrics/registry";

const CONNECT_TIMEOUT_MS = 2_000;
/** While a command has missed its deadline, a PING this often tells when the server answers again. */
const PROBE_INTERVAL_MS = 250;
/** Reconnect back-off: 100 ms, 200 ms, … capped at 2 s, forever (the app never gives up on its store). */
const MAX_RECONNECT_DELAY_MS = 2_000;
/** At most one warning per operation and per connection problem in this window; the rest are counted. */
const LOG_WINDOW_MS = 10_000;
const SCAN_BATCH = 500;

/** KEYS[1] = key, ARGV[1] = expected value, ARGV[2] = TTL in seconds; 1 when renewed, else 0. */
const RENEW_IF_VALUE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("EXPIRE", KEYS[1], ARGV[2]) end
return 0`;
/** KEYS[1] = key, ARGV[1] = expected value; 1 when deleted, else 0. */
const DELETE_IF_VALUE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`;

const unreplicatedWrites = counter({
  name: "vlcache_store_unreplicated_writes_total",
  help: "User data writes on a Redis Cluster that no replica acknowledged within the wait (kept on the master only).",
});

const storeErrors = counter<"op">({
  name: "vlcache_store_errors_total",
  help: "Store operations that failed (Redis unreachable or erroring) and were answered soft (null/false/0).",
  labelNames: ["op"],
});

/** Redis refuses writes past `maxmemory` under the noeviction policy with this reply. */
const OUT_OF_MEMORY_REPLY = /^OOM /;
/**
 * Error replies of a server that cannot serve right now (loading its data, a long script, a failing disk) or, on a
 * cluster, of a slot that is moving or has no master (what ioredis did not resolve by retrying).
 */
const TEMPORARY_REPLY = /^(LOADING|BUSY|MISCONF|TRYAGAIN|MOVED|ASK|CLUSTERDOWN) /;

/** Escapes Redis glob metacharacters so a prefix matches literally in SCAN MATCH. */
export function globEscape(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, "\\$&");
}

/** `redis://user:secret@host:6379/0` → `redis://user:***@host:6379/0`, for log lines. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable REDIS_URL>";
  }
}

/** Logs at most once per window and key; says how many similar events were swallowed in between. */
class RateLimitedWarn {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();
  constructor(private readonly logger: Logger) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const seen = this.last.get(key);
    if (seen && now - seen.atMs < LOG_WINDOW_MS) {
      seen.suppressed += 1;
      return;
    }
    this.logger.warn({ ...fields, suppressedSinceLast: seen?.suppressed ?? 0 }, message);
    this.last.set(key, { atMs: now, suppressed: 0 });
  }
}

export interface RedisBlobStoreOptions {
  /** Strict writes wait for one replica's acknowledgement on a cluster (user data; see the class comment). */
  readonly waitForReplica?: boolean;
}

/**
 * BlobStore over one ioredis connection, or one Redis Cluster client.
 *
 * Lifecycle: constructed around a client that connects (and, after an outage, reconnects) by itself. With the offline
 * queue disabled a command issued while disconnected fails at once instead of queueing, and the deadline
 * (STORE_TIMEOUT_MS, progressDeadline.ts: no byte moved for that long) bounds a command to a server that stopped
 * answering — a stalled or paused process keeps its connection open, so only the deadline can tell. `generation`
 * counts the client's "ready" events after construction: each reconnection starts a new generation.
 *
 * Health: healthy exactly while the client is "ready" and no command has missed its deadline since the server last
 * answered. A missed deadline marks the store unhealthy at once and starts a PING every PROBE_INTERVAL_MS; the first
 * reply (or a fresh connection) makes it healthy again. While unhealthy every operation fails at once without being
 * sent, so a stall costs a request one deadline, not one per operation, and nothing piles up behind the stalled
 * server. Strict operations then reject with StoreUnavailableError; soft ones log (rate-limited), count in
 * `vlcache_store_errors_total{op}` and answer their fallback. Because one connection carries every command in order,
 * a command sent after the PING's reply runs after every command that timed out before it (see storeLock.ts).
 *
 * Redis Cluster (a `Cluster` client; see redisTopology.ts for the rules it keeps): commands go to the master of their
 * key's slot, each master over its own connection, so the deadline is kept per master (a stalled master cannot hide
 * behind traffic to the others); a command without a key counts the progress of all of them. `deleteByPrefix` scans
 * every master, and `del` deletes key by key. `generation` also counts every node connection the client drops
 * (ioredis's `-node`: a master lost in a failover, whose writes not yet passed on to its replica are gone, but also a
 * replica or a connection it recreates), so it may also move when nothing was lost. With `waitForReplica`,
 * a strict `set` or `setIfAbsent` whose master has a replica is followed by `WAIT 1` on that master's connection for
 * at most half the deadline, so the write is on two nodes before the caller hears it stored and a failover does not
 * lose it. A WAIT that no replica acknowledges in time (the replica is down or far behind) is logged and counted in
 * `vlcache_store_unreplicated_writes_total` but does not fail the write: the master has it, and refusing every upload
 * while a replica is down would turn a lost replica into an outage. Half the deadline, so that a WAIT's silence never
 * passes for a stall. `publish` reaches the subscribers on every node, but Redis Cluster answers with the count of the
 * node that took the message only.
 *
 * Messages: the first `subscribe` opens a second connection (a connection in subscriber mode takes no other commands)
 * that, unlike the command connection, queues while offline and retries forever: a SUBSCRIBE issued before it is
 * connected waits for the connection, and ioredis subscribes again to every channel after each reconnection. It is
 * subscribed to exactly the channels that have listeners.
 */
export class RedisBlobStore implements BlobStore {
  readonly kind = "redis" as const;
  readonly strict: StrictStoreOps;
  private readonly warnings: RateLimitedWarn;
  private closed = false;
  private readyEvents = 0;
  private missedDeadline = false;
  private probe: NodeJS.Timeout | null = null;
  private readonly listeners = new ChannelListeners();
  private subscriber: RedisClient | null = null;
  /** Per master address on a cluster ("" for commands without a key, and for a single Redis). */
  private readonly deadlines = new Map<string, ProgressDeadline>();
  private readonly waitForReplica: boolean;

  constructor(
    private readonly client: RedisClient,
    private readonly logger: Logger,
    private readonly timeoutMs: number = DEFAULT_STORE_TIMEOUT_MS,
    options: RedisBlobStoreOptions = {},
  ) {
    this.warnings = new RateLimitedWarn(logger);
    this.waitForReplica = options.waitForReplica ?? false;
    let outage = false;
    client.on("error", (error: Error) => {
      this.warnings.warn("connection", { err: error.message }, "store: redis connection error");
    });
    client.on("close", () => {
      if (!this.closed && !outage) {
        outage = true;
        this.logger.warn(
          "store: redis connection lost; reconnecting in the background, operations fail soft meanwhile",
        );
      }
    });
    client.on("ready", () => {
      this.readyEvents += 1;
      this.answeredAgain();
      if (outage) this.logger.info("store: redis connection restored");
      outage = false;
    });
    client.on("-node", (node: Redis) => {
      this.readyEvents += 1;
      this.logger.warn({ node: nodeAddress(node) }, "store: a redis cluster node left the topology");
    });
    this.strict = {
      get: (key) => this.run(key, () => this.client.getBuffer(key)),
      set: async (key, value, ttlSeconds) => {
        assertValidTtl(ttlSeconds);
        await this.write(key, value, ["EX", ttlSeconds]);
      },
      setIfAbsent: async (key, value, ttlSeconds) => {
        assertValidTtl(ttlSeconds);
        return (await this.write(key, value, ["EX", ttlSeconds, "NX"])) === "OK";
      },
      renew: async (key, ttlSeconds) => {
        assertValidTtl(ttlSeconds);
        return (await this.run(key, () => this.client.expire(key, ttlSeconds))) === 1;
      },
      // Compare and act inside one Lua script: Redis runs a script atomically, so no other client's command can land
      // between the GET and the EXPIRE/DEL (a GET from here followed by a DEL could delete a lock claimed in between).
      renewIfValue: async (key, value, ttlSeconds) => {
        assertValidTtl(ttlSeconds);
        return (await this.run(key, () => this.client.eval(RENEW_IF_VALUE, 1, key, value, ttlSeconds))) === 1;
      },
      deleteIfValue: async (key, value) =>
        (await this.run(key, () => this.client.eval(DELETE_IF_VALUE, 1, key, value))) === 1,
      del: (...keys) => this.unlink(keys),
      deleteByPrefix: async (prefix) => {
        // On a cluster each master holds part of the keys; a SCAN walks one node.
        const removed = await Promise.all(masterNodes(this.client).map((node) => this.deleteOnNode(node, prefix)));
        return removed.reduce((sum, count) => sum + count, 0);
      },
    };
  }

  /** SCAN MATCH prefix* on one node (a master of a cluster, or the single Redis) and UNLINK what it finds. */
  private async deleteOnNode(node: Redis, prefix: string): Promise<number> {
    const pattern = `${globEscape(prefix)}*`;
    let cursor = "0";
    let removed = 0;
    do {
      const [next, keys] = await this.run(node, () => node.scan(cursor, "MATCH", pattern, "COUNT", SCAN_BATCH));
      removed += await this.unlink(keys);
      cursor = next;
    } while (cursor !== "0");
    return removed;
  }

  /** UNLINK: one command for a single Redis; one per key on a cluster, where a command's keys must share a slot. */
  private async unlink(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (!isCluster(this.client)) return this.run(keys[0], () => this.client.unlink(...keys));
    const removed = await Promise.all(keys.map((key) => this.run(key, () => this.client.unlink(key))));
    return removed.reduce((sum, count) => sum + count, 0);
  }

  /**
   * SET key value …`options`; with `waitForReplica` on a cluster whose master for the key has a replica, then WAIT 1 on
   * the connection to the master that took the write (ioredis follows a MOVED and updates its slot table before the
   * SET's reply arrives, so the table names that master then; WAIT counts the writes of the connection it is sent on).
   * A WAIT that fails (the master went away after the write) rejects: the write may be lost, so it must not pass for
   * stored.
   */
  private async write(key: string, value: Buffer, options: (string | number)[]): Promise<"OK" | null> {
    const reply = await this.run(key, () => this.client.set(key, value, ...(options as ["EX", number])), value.length);
    const cluster = isCluster(this.client) ? this.client : null;
    // Nothing to wait for when SET NX wrote nothing, or when the master has no replica to wait for.
    if (!this.waitForReplica || reply === null || cluster === null || replicaCount(cluster, key) === 0) return reply;
    const address = commandNode(cluster, key);
    const master = address === null ? undefined : findNode(cluster, address);
    if (master === undefined) throw new StoreUnavailableError(`the master of ${key}'s slot is not connected`);
    const waitMs = Math.max(1, Math.floor(this.timeoutMs / 2));
    const acknowledged = Number(await this.run(master, () => master.call("WAIT", 1, waitMs)));
    if (acknowledged < 1) {
      unreplicatedWrites.inc();
      this.warnings.warn(
        "replica-wait",
        { node: address, waitMs },
        "store: no replica acknowledged a user data write in time; it is on the master only until the replica catches up",
      );
    }
    return reply;
  }

  get generation(): number {
    return this.readyEvents;
  }

  get(key: string): Promise<Buffer | null> {
    return this.soft("get", null, () => this.strict.get(key));
  }

  async set(key: string, value: Buffer, ttlSeconds: number): Promise<void> {
    assertValidTtl(ttlSeconds);
    await this.soft("set", undefined, () => this.strict.set(key, value, ttlSeconds));
  }

  async setIfAbsent(key: string, value: Buffer, ttlSeconds: number): Promise<boolean> {
    assertValidTtl(ttlSeconds);
    return this.soft("setIfAbsent", false, () => this.strict.setIfAbsent(key, value, ttlSeconds));
  }

  async renew(key: string, ttlSeconds: number): Promise<boolean> {
    assertValidTtl(ttlSeconds);
    return this.soft("renew", false, () => this.strict.renew(key, ttlSeconds));
  }

  async renewIfValue(key: string, value: Buffer, ttlSeconds: number): Promise<boolean> {
    assertValidTtl(ttlSeconds);
    return this.soft("renewIfValue", false, () => this.strict.renewIfValue(key, value, ttlSeconds));
  }

  deleteIfValue(key: string, value: Buffer): Promise<boolean> {
    return this.soft("deleteIfValue", false, () => this.strict.deleteIfValue(key, value));
  }

  del(...keys: string[]): Promise<number> {
    return this.soft("del", 0, () => this.strict.del(...keys));
  }

  deleteByPrefix(prefix: string): Promise<number> {
    return this.soft("deleteByPrefix", 0, () => this.strict.deleteByPrefix(prefix));
  }

  publish(channel: string, message: string): Promise<number> {
    return this.soft("publish", 0, () => this.run(null, () => this.client.publish(channel, message)));
  }

  subscribe(channel: string, listener: MessageListener): () => void {
    if (this.listeners.add(channel, listener)) {
      this.subscriberConnection()
        .subscribe(channel)
        .catch((error: Error) =>
          this.warnings.warn(
            "subscribe",
            { channel, err: error.message },
            "store: redis SUBSCRIBE failed; messages on the channel are missed",
          ),
        );
    }
    return () => {
      // A failed UNSUBSCRIBE (Redis down) is harmless: the channel has no listeners, so its messages are dropped here.
      if (this.listeners.remove(channel, listener)) this.subscriber?.unsubscribe(channel).catch(() => undefined);
    };
  }

  isHealthy(): boolean {
    return this.client.status === "ready" && !this.missedDeadline;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopProbe();
    this.listeners.clear();
    // The subscriber has nothing to flush, and with its offline queue a QUIT could wait for Redis forever.
    this.subscriber?.disconnect();
    try {
      await this.client.quit();
    } catch {
      // quit() needs a live connection; without one there is nothing to say goodbye to.
      this.client.disconnect();
    }
  }

  private subscriberConnection(): RedisClient {
    if (this.subscriber !== null) return this.subscriber;
    // A cluster delivers every PUBLISH to the subscribers of every node, so one node's connection hears them all;
    // ioredis picks it and moves the subscriptions to another node when it fails.
    const subscriber = isCluster(this.client)
      ? this.client.duplicate(undefined, {
          enableOfflineQueue: true,
          redisOptions: { ...this.client.options.redisOptions, maxRetriesPerRequest: null },
        })
      : this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    subscriber.on("error", (error: Error) => {
      this.warnings.warn("subscriber", { err: error.message }, "store: redis subscriber connection error");
    });
    subscriber.on("message", (channel: string, message: string) => {
      try {
        this.listeners.deliver(channel, message);
      } catch (error) {
        // A throwing listener must not break the connection's reply parsing for the messages after it.
        this.logger.error({ err: error, channel }, "store: a message listener threw");
      }
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  /**
   * Sends one operation unless the store is known unhealthy; turns every failure into the strict contract's errors.
   * `route`: the key the command acts on, or the node it is sent to, or null (any node), for its deadline.
   */
  private async run<T>(route: string | Redis | null, send: () => Promise<T>, payloadBytes = 0): Promise<T> {
    if (!this.isHealthy()) {
      throw new StoreUnavailableError(
        this.missedDeadline
          ? "the store missed its deadline and has not answered since"
          : `the store is not connected (${this.client.status})`,
      );
    }
    try {
      return await this.deadlineFor(route).track(send(), payloadBytes);
    } catch (error) {
      if (isStoreUnavailable(error)) throw error;
      const message = (error as Error).message;
      if (OUT_OF_MEMORY_REPLY.test(message)) throw new StoreFullError(`the store's memory budget is spent: ${message}`);
      // Any other error reply is a bug here (a wrong command or type), not an outage.
      if ((error as Error).name === "ReplyError" && !TEMPORARY_REPLY.test(message)) throw error;
      throw new StoreUnavailableError(`store operation failed: ${message}`);
    }
  }

  /**
   * The deadline of the connection `route` goes over: the single Redis's; on a cluster, the master's that serves the
   * key (or the given node's), whose progress is read from whichever connection the client has to it at the time (a
   * node the client dropped is silent from then on, so its commands expire).
   */
  private deadlineFor(route: string | Redis | null): ProgressDeadline {
    const client = this.client;
    const address =
      !isCluster(client) || route === null
        ? ""
        : typeof route === "string"
          ? (commandNode(client, route) ?? "")
          : nodeAddress(route);
    let deadline = this.deadlines.get(address);
    if (deadline === undefined) {
      deadline = new ProgressDeadline(this.timeoutMs, this.progressOf(address), () => this.missDeadline());
      this.deadlines.set(address, deadline);
    }
    return deadline;
  }

  /** Bytes moved by the connection to the node at `address` ("": every connection of the client). */
  private progressOf(address: string): () => number {
    const client = this.client;
    if (address === "" || !isCluster(client)) return () => bytesMoved(client);
    let lastSeen = 0;
    return () => {
      const connection = findNode(client, address);
      if (connection !== undefined) lastSeen = bytesMoved(connection);
      return lastSeen;
    };
  }

  private missDeadline(): void {
    if (this.missedDeadline || this.closed) return;
    this.missedDeadline = true;
    this.logger.warn("store: redis missed its deadline; operations fail at once until it answers again");
    let inFlight = false;
    this.probe = setInterval(() => {
      if (inFlight || this.client.status !== "ready") return;
      inFlight = true;
      this.deadlineFor(null)
        .track(this.client.ping())
        .then(() => this.answeredAgain())
        .catch(() => undefined)
        .finally(() => (inFlight = false));
    }, PROBE_INTERVAL_MS);
    this.probe.unref();
  }

  private answeredAgain(): void {
    if (!this.missedDeadline) return;
    this.missedDeadline = false;
    this.stopProbe();
    this.logger.info("store: redis answers again");
  }

  private stopProbe(): void {
    if (this.probe !== null) clearInterval(this.probe);
    this.probe = null;
  }

  private async soft<T>(op: StoreOp, fallback: T, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      storeErrors.inc({ op });
      this.warnings.warn(
        `op:${op}`,
        { op, err: (error as Error).message },
        "store: redis operation failed, answered soft",
      );
      return fallback;
    }
  }
}

/**
 * A client configured for RedisBlobStore (which enforces the deadline itself). Connecting starts immediately, in the
 * background.
 */
export function createRedisClient(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  });
}

/**
 * A client of the Redis Cluster reached through `seedNodes`, configured like `createRedisClient`: commands fail at once
 * instead of queueing while the cluster is unreachable, and a command redirected during a failover (MOVED, a node
 * gone) is retried every 100 ms, within the store's deadline.
 */
export function createRedisClusterClient(seedNodes: readonly RedisClusterNode[]): Cluster {
  return new Cluster(
    seedNodes.map((node) => ({ host: node.host, port: node.port })),
    {
      enableOfflineQueue: false,
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
      slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
      // Besides refreshing on MOVED and lost nodes: replicas added (or first reported) since are learnt within 5 s.
      slotsRefreshInterval: 5_000,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      redisOptions: { connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 1 },
    },
  );
}

/** Resolves true once the client is ready, false when `waitMs` passes first (the client keeps trying afterwards). */
export function waitUntilReady(client: RedisClient, waitMs: number): Promise<boolean> {
  if (client.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off("ready", onReady);
      resolve(false);
    }, waitMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once("ready", onReady);
  });
}
