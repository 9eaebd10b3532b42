/**
 * Real Redis Cluster for tests: 3 masters and 3 replicas (one per master), six redis-server processes on free loopback
 * ports with their data in a fresh temp dir, joined by `redis-cli --cluster create … --cluster-replicas 1`.
 *
 * API
 *   const cluster = await startTestRedisCluster();   // resolves once every node reports cluster_state:ok and every
 *                                                    // master has its replica in sync
 *   cluster.seedNodes                                // "127.0.0.1:<port>,…" (all six), the REDIS_CLUSTER_NODES value
 *   cluster.nodes                                    // [{host, port}] of all six, for openStore's config
 *   cluster.client()                                 // an ioredis Cluster for assertions (closed by teardown())
 *   await cluster.masterPorts()                      // ports of the current masters (changes after a failover)
 *   await cluster.masterPortOf(key)                  // the port of the master serving `key`'s slot now
 *   await cluster.replicaPortOf(masterPort)          // the port of that master's replica
 *   await cluster.flush()                            // FLUSHALL on every master (replicas follow)
 *   await cluster.countKeys(prefix)                  // keys starting with `prefix` on each live master, in port order
 *   await cluster.subscribers(channel)               // connections subscribed to `channel`, summed over the live
 *                                                    // nodes (each node counts only its own)
 *   cluster.kill(port)                               // SIGKILL one node (a master: its replica takes over)
 *   cluster.pause(port) / cluster.resume(port)       // SIGSTOP / SIGCONT one node: its connections stay open,
 *                                                    // nothing answers (longer than 1 s: the others fail it over)
 *   await cluster.waitUntilOk()                      // every live node says cluster_state:ok and every slot is
 *                                                    // served by a live master (after kill(): the failover is done)
 *   await cluster.teardown()                         // stop every node, close clients, remove the temp dir
 *
 * Typical use:
 *   let cluster: TestRedisCluster;
 *   beforeAll(async () => { cluster = await startTestRedisCluster(); }, 60_000);
 *   afterAll(() => cluster.teardown());
 *
 * The nodes run with `cluster-node-timeout` 1000 ms (a dead master is replaced within about 2–3 s) and
 * `cluster-require-full-coverage no` (the other masters keep serving while one is being replaced). Each node is
 * started by the app's own launcher (lib/cache/store/embeddedRedisServer.ts), so none outlives the test process.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import {
  findRedisServerBinary,
  startRedisServer,
  type EmbeddedRedisServer,
} from "@/lib/cache/store/embeddedRedisServer";

const run = promisify(execFile);

export interface TestRedisCluster {
  readonly seedNodes: string;
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  client(): Cluster;
  masterPorts(): Promise<number[]>;
  masterPortOf(key: string): Promise<number>;
  replicaPortOf(masterPort: number): Promise<number>;
  flush(): Promise<void>;
  countKeys(prefix: string): Promise<number[]>;
  subscribers(channel: string): Promise<number>;
  kill(port: number): void;
  pause(port: number): void;
  resume(port: number): void;
  waitUntilOk(timeoutMs?: number): Promise<void>;
  teardown(): Promise<void>;
}

const HOST = "127.0.0.1";
const NODE_COUNT = 6;
const NODE_TIMEOUT_MS = 1_000;
const READY_TIMEOUT_MS = 30_000;
const SLOT_COUNT = 16_384;
const CLUSTER_NODE_ARGS = [
  "--cluster-enabled",
  "yes",
  "--cluster-config-file",
  "nodes.conf",
  "--cluster-node-timeout",
  String(NODE_TIMEOUT_MS),
  "--cluster-require-full-coverage",
  "no",
  // A replica's first sync starts at once (Redis waits 5 s by default for more replicas to share the transfer).
  "--repl-diskless-sync-delay",
  "0",
];

/** One line of CLUSTER NODES: `<id> <host:port@bus> <flags> <master id> … <slot ranges>`. */
interface NodeLine {
  readonly id: string;
  /** The id of the master a replica follows ("-" for a master). */
  readonly masterId: string;
  readonly port: number;
  readonly master: boolean;
  readonly failed: boolean;
  readonly slotRanges: readonly (readonly [number, number])[];
}

function parseClusterNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const [id, address, flags, masterId, , , , , ...slots] = line.trim().split(" ");
      const flagList = flags.split(",");
      return {
        id,
        masterId,
        port: Number(address.split("@")[0].split(":").pop()),
        master: flagList.includes("master"),
        failed: flagList.includes("fail") || flagList.includes("noaddr"),
        slotRanges: slots
          .filter((slot) => !slot.startsWith("["))
          .map((slot) => {
            const [from, to] = slot.split("-").map(Number);
            return [from, to ?? from] as const;
          }),
      };
    });
}

export async function startTestRedisCluster(): Promise<TestRedisCluster> {
  const binary = findRedisServerBinary();
  if (!binary) {
    throw new Error(
      "redis-server not found on PATH: install the Debian package redis-server (npm test does it as root)",
    );
  }
  const tempDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-test-cluster-"));
  const servers: EmbeddedRedisServer[] = [];
  const killed = new Set<number>();
  const clients: Cluster[] = [];

  /** Runs `work` on a short-lived connection to one node. */
  const onNode = async <T>(port: number, work: (client: Redis) => Promise<T>): Promise<T> => {
    const client = new Redis({ host: HOST, port, maxRetriesPerRequest: 1 });
    client.on("error", () => undefined);
    try {
      return await work(client);
    } finally {
      client.disconnect();
    }
  };
  const livePorts = () => servers.map((server) => server.port).filter((port) => !killed.has(port));
  /** The topology as a live node sees it. */
  const topology = () =>
    onNode(livePorts()[0], async (client) => parseClusterNodes((await client.cluster("NODES")) as string));

  const serverOn = (port: number) => {
    const server = servers.find((candidate) => candidate.port === port);
    if (!server) throw new Error(`no node on port ${port}`);
    return server;
  };

  const teardown = async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(servers.map((server) => server.stop()));
    await rm(tempDir, { recursive: true, force: true });
  };

  /** Polls `check` on every live node until it holds for all of them; throws with the last state seen. */
  const waitFor = async (what: string, check: (port: number) => Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        const results = await Promise.all(livePorts().map(check));
        if (results.every(Boolean)) return;
        last = `${results.filter(Boolean).length} of ${results.length} nodes`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`test cluster: not ${what} within ${timeoutMs} ms (${last})`);
  };

  const waitUntilOk = async (timeoutMs = READY_TIMEOUT_MS) => {
    await waitFor(
      "ok",
      (port) =>
        onNode(port, async (client) => {
          const info = (await client.cluster("INFO")) as string;
          const nodes = parseClusterNodes((await client.cluster("NODES")) as string);
          const served = nodes
            .filter((node) => node.master && !node.failed && !killed.has(node.port))
            .reduce((sum, node) => sum + node.slotRanges.reduce((n, [from, to]) => n + to - from + 1, 0), 0);
          return info.includes("cluster_state:ok") && served === SLOT_COUNT;
        }),
      timeoutMs,
    );
  };

  /**
   * Every master has a replica whose link is up (so WAIT 1 can be acknowledged), and every node's CLUSTER SLOTS names
   * it (Redis leaves out a replica that has not replicated a write yet; clients learn replicas from CLUSTER SLOTS).
   */
  const waitForReplicas = async () => {
    const masters = (await topology()).filter((node) => node.master);
    await Promise.all(masters.map((node) => onNode(node.port, (client) => client.flushall())));
    await waitFor(
      "replicated",
      (port) =>
        onNode(port, async (client) => {
          const replication = await client.info("replication");
          const ranges = (await client.cluster("SLOTS")) as unknown[][];
          const synced = !replication.includes("role:master") || /slave0:.*state=online/.test(replication);
          return synced && ranges.length === masters.length && ranges.every((range) => range.length >= 4);
        }),
      READY_TIMEOUT_MS,
    );
  };

  try {
    // One at a time: each takes a free port, which two starts at once could both be handed.
    for (let i = 0; i < NODE_COUNT; i++) {
      servers.push(await startRedisServer({ binary, parentDir: tempDir, extraArgs: CLUSTER_NODE_ARGS }));
    }
    await run(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...servers.map((server) => `${HOST}:${server.port}`),
        "--cluster-replicas",
        "1",
        "--cluster-yes",
      ],
      { timeout: READY_TIMEOUT_MS },
    );
    await waitUntilOk();
    await waitForReplicas();
  } catch (error) {
    await teardown();
    throw error;
  }

  return {
    seedNodes: servers.map((server) => `${HOST}:${server.port}`).join(","),
    nodes: servers.map((server) => ({ host: HOST, port: server.port })),
    client() {
      const client = new Cluster(
        servers.map((server) => ({ host: HOST, port: server.port })),
        { redisOptions: { maxRetriesPerRequest: 1 } },
      );
      // Tests kill nodes under this client; its commands report that, the event would only be noise.
      client.on("error", () => undefined);
      clients.push(client);
      return client;
    },
    async masterPorts() {
      return (await topology()).filter((node) => node.master && !node.failed).map((node) => node.port);
    },
    async masterPortOf(key) {
      const slot = calculateSlot(key);
      const owner = (await topology()).find(
        (node) => node.master && !node.failed && node.slotRanges.some(([from, to]) => slot >= from && slot <= to),
      );
      if (!owner) throw new Error(`no master serves slot ${slot}`);
      return owner.port;
    },
    async replicaPortOf(masterPort) {
      const nodes = await topology();
      const master = nodes.find((node) => node.port === masterPort);
      const replica = nodes.find((node) => master && node.masterId === master.id && !node.failed);
      if (!replica) throw new Error(`no live replica follows the node on port ${masterPort}`);
      return replica.port;
    },
    async flush() {
      const masters = (await topology()).filter((node) => node.master && !node.failed);
      await Promise.all(masters.map((node) => onNode(node.port, (client) => client.flushall())));
    },
    async countKeys(prefix) {
      const masters = (await topology()).filter((node) => node.master && !node.failed && !killed.has(node.port));
      return Promise.all(
        masters
          .map((node) => node.port)
          .sort((a, b) => a - b)
          .map((port) =>
            onNode(port, async (client) => {
              let [cursor, count] = ["0", 0];
              do {
                const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
                [cursor, count] = [next, count + keys.length];
              } while (cursor !== "0");
              return count;
            }),
          ),
      );
    },
    async subscribers(channel) {
      const counts = await Promise.all(
        livePorts().map((port) =>
          onNode(port, async (client) => ((await client.pubsub("NUMSUB", channel)) as [string, number])[1]),
        ),
      );
      return counts.reduce((sum, count) => sum + count, 0);
    },
    kill(port) {
      killed.add(port);
      process.kill(serverOn(port).pid, "SIGKILL");
    },
    pause(port) {
      process.kill(serverOn(port).pid, "SIGSTOP");
    },
    resume(port) {
      process.kill(serverOn(port).pid, "SIGCONT");
    },
    waitUntilOk,
    teardown,
  };
}
