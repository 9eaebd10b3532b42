import calculateSlot from "cluster-key-slot";
import { Cluster, type Redis } from "ioredis";
import type { Socket as NetSocket } from "node:net";

/**
 * What RedisBlobStore needs to know about where a command goes: one Redis (`REDIS_URL`, the embedded servers) or a
 * Redis Cluster (`REDIS_CLUSTER_NODES`), whose keys live on the master that serves their hash slot.
 *
 * Cluster rules the store keeps (see redisBlobStore.ts):
 * - A Lua script or a multi-key command may only touch keys of one slot. Every script here touches one key, and a
 *   multi-key deletion is sent as one command per key, so no key needs a hash tag; a future script or multi-key command
 *   over several keys must put them under one `{hash tag}`.
 * - SCAN sees one node's keys only: a scan over the whole keyspace visits every master (`masterNodes`).
 * - Each node has its own connection, so a stall is judged per node: `commandNode` names the master a keyed command
 *   goes to, and that master's connection is the one whose silence counts.
 * The slot table is ioredis's own (refreshed on MOVED replies and topology changes), read, never written.
 */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** `host:port` of a node connection, as ioredis's slot table names nodes. */
export function nodeAddress(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** The master serving `key`'s slot (`host:port`), as far as the client knows; null before it has loaded the slots. */
export function commandNode(cluster: Cluster, key: string): string | null {
  return cluster.slots[calculateSlot(key)]?.[0] ?? null;
}

/** Replicas the client knows for the master serving `key`'s slot. */
export function replicaCount(cluster: Cluster, key: string): number {
  return Math.max(0, (cluster.slots[calculateSlot(key)]?.length ?? 1) - 1);
}

/** Masters and replicas named in the client's slot table (what the cluster reported at its last refresh). */
export function clusterShape(cluster: Cluster): { masters: number; replicas: number } {
  const masters = new Set<string>();
  const replicas = new Set<string>();
  for (const nodes of cluster.slots) {
    if (nodes === undefined) continue;
    masters.add(nodes[0]);
    for (const replica of nodes.slice(1)) replicas.add(replica);
  }
  return { masters: masters.size, replicas: replicas.size };
}

/** The live connection to the master at `address`, if the client has one (replicas are not searched). */
export function findNode(cluster: Cluster, address: string): Redis | undefined {
  return cluster.nodes("master").find((node) => nodeAddress(node) === address);
}

/** The masters to visit for a scan over every key (the client itself for a single Redis). */
export function masterNodes(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes("master") : [client];
}

/**
 * Bytes a connection has received and handed to the kernel so far (grows while the server works); for a cluster, the
 * sum over its node connections.
 */
export function bytesMoved(client: RedisClient): number {
  if (isCluster(client)) return client.nodes().reduce((sum, node) => sum + bytesMoved(node), 0);
  const socket = client.stream as NetSocket | undefined;
  return socket ? socket.bytesRead + socket.bytesWritten - socket.writableLength : 0;
}
