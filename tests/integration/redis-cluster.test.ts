import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStoreUnavailable } from "@/lib/cache/store/blobStore";
import { openStore, type OpenedStore } from "@/lib/cache/store/openStore";
import { RedisBlobStore, createRedisClusterClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import { createLogger } from "@/lib/log";
import { metricsRegistry } from "@/lib/metrics/registry";
import { describeBlobStoreContract } from "@/tests/support/blobStoreContract";
import { startTestRedisCluster, type TestRedisCluster } from "@/tests/support/redisCluster";

/**
 * The store on a real Redis Cluster (3 masters + 3 replicas on loopback): the BlobStore contract, pub/sub across
 * processes, replica acknowledgement of user data writes, the deadline per master, and a master killed under traffic.
 */
const silent = createLogger("silent");
const TIMEOUT_MS = 300;
let cluster: TestRedisCluster;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  cluster = await startTestRedisCluster();
}, 60_000);
afterAll(async () => {
  for (const store of opened) await store.close();
  await cluster?.teardown();
});

/** A store over its own cluster client, like one app process's user data store. */
async function openClusterStore(options: { waitForReplica?: boolean } = {}): Promise<RedisBlobStore> {
  const client = createRedisClusterClient(cluster.nodes);
  expect(await waitUntilReady(client, 5_000)).toBe(true);
  const store = new RedisBlobStore(client, silent, TIMEOUT_MS, options);
  opened.push(store);
  return store;
}

async function unreplicatedWrites(): Promise<number> {
  const metric = metricsRegistry.getSingleMetric("vlcache_store_unreplicated_writes_total");
  return (await metric!.get()).values.reduce((sum, value) => sum + value.value, 0);
}

/** Keys on three different masters (hash slots 0–5460, 5461–10922, 10923–16383 after `--cluster create`). */
async function keysOnEachMaster(prefix: string): Promise<Map<number, string>> {
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3; i++) {
    const key = `${prefix}:${i}`;
    const port = await cluster.masterPortOf(key);
    if (!byMaster.has(port)) byMaster.set(port, key);
  }
  return byMaster;
}

describeBlobStoreContract("redis cluster", () => openClusterStore({ waitForReplica: true }));

describe("the store on a Redis Cluster", () => {
  it("opens from REDIS_CLUSTER_NODES for user data and caches, and says so in one line", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger("info", { write: (line: string) => lines.push(JSON.parse(line)) });
    const stores: OpenedStore = await openStore(
      {
        redisUrl: undefined,
        redisClusterNodes: cluster.nodes.slice(0, 1),
        embeddedStore: "auto",
        cacheDir: "unused",
        storeTimeoutMs: TIMEOUT_MS,
        userStoreMaxBytes: 16 << 20,
        cacheStoreMaxBytes: 16 << 20,
      },
      logger,
    );
    opened.push(stores);
    expect(stores.mode).toBe("external");
    expect(stores.store).not.toBe(stores.cacheStore);
    expect(stores.description).toBe(
      `store: Redis Cluster via ${cluster.nodes[0].host}:${cluster.nodes[0].port} (REDIS_CLUSTER_NODES), 3 masters, 3 replicas; user data writes wait for one replica`,
    );
    expect(lines.filter((line) => line.store).map((line) => line.msg)).toEqual([stores.description]);
    await stores.store.strict.set("opened:user", Buffer.from("u"), 60);
    await stores.cacheStore.set("opened:cache", Buffer.from("c"), 60);
    // Both clients see the whole cluster, whichever seed node they were given.
    expect((await stores.cacheStore.get("opened:user"))?.toString()).toBe("u");
    expect((await stores.store.strict.get("opened:cache"))?.toString()).toBe("c");
    expect(await stores.store.strict.del("opened:user", "opened:cache")).toBe(2);
  });

  it("delivers a message published through one process's store to every process subscribed, on whatever node", async () => {
    const stores = await Promise.all([openClusterStore(), openClusterStore(), openClusterStore()]);
    const heard: string[] = [];
    const stops = stores.map((store, i) => store.subscribe("cluster:news", (message) => heard.push(`${i}:${message}`)));
    // Each subscriber connection sits on one node; a cluster passes every PUBLISH on to all of them.
    await expect
      .poll(async () => {
        await stores[2].publish("cluster:news", "ping");
        return new Set(heard.filter((line) => line.endsWith(":ping")).map((line) => line[0])).size;
      })
      .toBe(3);
    heard.length = 0;
    await stores[0].publish("cluster:news", "flush");
    await expect
      .poll(() => heard.filter((line) => line.endsWith(":flush")).sort())
      .toEqual(["0:flush", "1:flush", "2:flush"]);
    for (const stop of stops) stop();
  });

  it("answers a user data write once a replica has it; with the replica stalled, within the deadline and counted", async () => {
    const store = await openClusterStore({ waitForReplica: true });
    const key = "durable:image";
    const masterPort = await cluster.masterPortOf(key);
    const replicaPort = await cluster.replicaPortOf(masterPort);
    const replica = await replicaReader(replicaPort);

    const before = await unreplicatedWrites();
    await store.strict.set(key, Buffer.from("stored"), 60);
    // WAIT 1 returned before the write was answered, so the replica has it now, not eventually.
    expect(await replica.get(key)).toBe("stored");
    expect(await unreplicatedWrites()).toBe(before);

    cluster.pause(replicaPort);
    try {
      const started = Date.now();
      await store.strict.set(key, Buffer.from("on the master only"), 60);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS / 2 - 5);
      expect(elapsed).toBeLessThan(TIMEOUT_MS);
      expect(await unreplicatedWrites()).toBe(before + 1);
      expect((await store.strict.get(key))?.toString()).toBe("on the master only");
      expect(store.isHealthy()).toBe(true);
    } finally {
      cluster.resume(replicaPort);
    }
    await expect.poll(() => replica.get(key), { timeout: 5_000 }).toBe("on the master only");
    replica.disconnect();
  });

  it("a stalled master (SIGSTOP) costs its commands one deadline while the other masters keep answering", async () => {
    const store = await openClusterStore({ waitForReplica: true });
    const keys = await keysOnEachMaster("stall");
    for (const key of keys.values()) await store.strict.set(key, Buffer.from(key), 60);
    const [stalledPort, stalledKey] = [...keys][0];
    const otherKeys = [...keys.values()].slice(1);

    cluster.pause(stalledPort);
    try {
      const started = Date.now();
      const stalled = store.strict.get(stalledKey).then(
        () => ({ error: null, ms: Date.now() - started }),
        (error: unknown) => ({ error, ms: Date.now() - started }),
      );
      // The other masters answer while the stalled one is silent (they are asked first, so the store is still healthy).
      expect((await Promise.all(otherKeys.map((key) => store.strict.get(key)))).map(String)).toEqual(otherKeys);
      const outcome = await stalled;
      expect(isStoreUnavailable(outcome.error)).toBe(true);
      expect(outcome.ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
      expect(outcome.ms).toBeLessThan(TIMEOUT_MS * 3);
    } finally {
      cluster.resume(stalledPort);
    }
    await expect.poll(() => store.isHealthy()).toBe(true);
    expect((await store.strict.get(stalledKey))?.toString()).toBe(stalledKey);
  });

  it("a master killed under traffic: every operation ends within the deadline, no acknowledged write is lost, pub/sub goes on", async () => {
    await cluster.waitUntilOk();
    const writer = await openClusterStore({ waitForReplica: true });
    const listener = await openClusterStore();
    const heard: string[] = [];
    listener.subscribe("cluster:after", (message) => heard.push(message));
    const victimKey = "traffic:0";
    const victim = await cluster.masterPortOf(victimKey);

    const acknowledged: string[] = [];
    const refused: string[] = [];
    const slowest = { ms: 0 };
    let stop = false;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const key = `traffic:${i}`;
        const started = Date.now();
        try {
          await writer.strict.set(key, Buffer.from(`value ${i}`), 600);
          acknowledged.push(key);
        } catch (error) {
          if (!isStoreUnavailable(error)) throw error;
          refused.push(key);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        slowest.ms = Math.max(slowest.ms, Date.now() - started);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    cluster.kill(victim);
    await cluster.waitUntilOk();
    // Traffic after the failover, so that writes land on the promoted replica too.
    await expect
      .poll(() => writer.strict.set(victimKey, Buffer.from("after"), 600).then(() => true), {
        timeout: 10_000,
      })
      .toBe(true);
    stop = true;
    await traffic;

    expect(acknowledged.length).toBeGreaterThan(20);
    expect(refused.length).toBeGreaterThan(0);
    // A strict write either answers or fails within the deadline (plus a retry's 100 ms and scheduling).
    expect(slowest.ms).toBeLessThan(TIMEOUT_MS * 3);
    const reader = await openClusterStore();
    const values = await Promise.all(acknowledged.map((key) => reader.strict.get(key)));
    const lost = acknowledged.filter((key, i) => values[i] === null);
    expect(lost).toEqual([]);

    await expect
      .poll(async () => {
        await writer.publish("cluster:after", "still here");
        return heard.includes("still here");
      })
      .toBe(true);
  });
});

/** A connection to a replica that may read (READONLY). */
async function replicaReader(port: number): Promise<Redis> {
  const client = new Redis({ host: "127.0.0.1", port });
  await client.readonly();
  return client;
}
