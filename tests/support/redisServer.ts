/**
 * Real redis-server for tests: a private server on a free loopback port with its data in a fresh temp dir.
 *
 * API
 *   const redis = await startTestRedis();   // throws with the install hint when redis-server is missing
 *   redis.url                               // "redis://127.0.0.1:<port>"
 *   redis.port
 *   redis.client()                          // a plain ioredis client for assertions (closed by stop())
 *   await redis.flush()                     // FLUSHALL between tests
 *   await redis.stop()                      // simulate an outage: server down, port kept for restart()
 *   await redis.restart()                   // start again on the same port (clients reconnect by themselves)
 *   redis.pause() / redis.resume()          // SIGSTOP / SIGCONT the server: connections stay open, nothing answers
 *   await redis.teardown()                  // stop for good, close clients, remove the temp dir
 *
 * Typical use:
 *   let redis: TestRedis;
 *   beforeAll(async () => { redis = await startTestRedis(); });
 *   afterAll(() => redis.teardown());
 *
 * It runs the same launcher as the app's embedded store (lib/cache/store/embeddedRedisServer.ts), so the server dies
 * with the test process even if that is killed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import {
  findRedisServerBinary,
  startRedisServer,
  type EmbeddedRedisServer,
} from "@/lib/cache/store/embeddedRedisServer";

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  client(): Redis;
  flush(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
  teardown(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const binary = findRedisServerBinary();
  if (!binary) {
    throw new Error(
      "redis-server not found on PATH: install the Debian package redis-server (npm test does it as root)",
    );
  }
  const tempDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-test-redis-"));
  let server: EmbeddedRedisServer | null = await startRedisServer({ binary, parentDir: tempDir });
  const port = server.port;
  const url = server.url;
  const clients: Redis[] = [];

  const stop = async () => {
    await server?.stop();
    server = null;
  };

  return {
    url,
    port,
    client() {
      const client = new Redis(url, { maxRetriesPerRequest: 1 });
      // Tests stop and restart the server under this client; its commands report that, the event would only be noise.
      client.on("error", () => undefined);
      clients.push(client);
      return client;
    },
    async flush() {
      const client = new Redis(url);
      try {
        await client.flushall();
      } finally {
        client.disconnect();
      }
    },
    stop,
    async restart() {
      await stop();
      server = await startRedisServer({ binary, parentDir: tempDir, port });
    },
    pause() {
      if (server) process.kill(server.pid, "SIGSTOP");
    },
    resume() {
      if (server) process.kill(server.pid, "SIGCONT");
    },
    async teardown() {
      for (const client of clients) client.disconnect();
      await stop();
      await rm(tempDir, { recursive: true, force: true });
    },
  };
}
