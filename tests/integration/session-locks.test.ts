import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionLockKey } from "@/lib/cache/keys";
import { RedisBlobStore, createRedisClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import { parseTenantId } from "@/lib/ids";
import { createLogger } from "@/lib/log";
import { SessionLocks } from "@/lib/server/sessionLocks";
import { parseSessionId } from "@/lib/server/sessions";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";

/**
 * Session turn locks across replicas, each "replica" a SessionLocks over its own connection to one real redis-server:
 * turns of one session run one at a time wherever they arrive, a crashed holder frees the session within the TTL, a
 * client that leaves stops waiting, and with Redis down each process still serialises its own turns.
 */
const silent = createLogger("silent");
const tenant = parseTenantId("locks")!;
const session = parseSessionId(randomUUID())!;
let redis: TestRedis;
const stores: RedisBlobStore[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  await redis.flush();
});
afterAll(() => redis.teardown());

async function replica(options: { ttlSeconds?: number } = {}): Promise<SessionLocks> {
  const client = createRedisClient(redis.url);
  expect(await waitUntilReady(client, 5_000)).toBe(true);
  const store = new RedisBlobStore(client, silent);
  stores.push(store);
  return new SessionLocks(store, { pollIntervalMs: 20, ...options });
}

/** Lets the event loop run `ms` (a waiting replica polls several times meanwhile). */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("session locks across replicas", () => {
  it("runs the turns of one session one at a time across replicas, in order, and frees the key after", async () => {
    const [a, b] = [await replica(), await replica()];
    const events: string[] = [];
    const releaseA = await a.acquire(tenant, session);
    events.push("a holds");
    const waitingB = b.acquire(tenant, session).then((release) => {
      events.push("b holds");
      return release;
    });
    await pause(200);
    expect(events).toEqual(["a holds"]);

    events.push("a releases");
    await releaseA();
    const releaseB = await waitingB;
    expect(events).toEqual(["a holds", "a releases", "b holds"]);
    await releaseB();
    await releaseB();
    expect(await redis.client().exists(sessionLockKey(tenant, session))).toBe(0);
    expect([a.size, b.size]).toEqual([0, 0]);
  });

  it("keeps a long turn's claim alive by renewing it, so another replica waits past the TTL", async () => {
    // Renewed every TTL/3: only a stall of more than 2/3 of the TTL could let the claim lapse.
    const [a, b] = [await replica({ ttlSeconds: 2 }), await replica({ ttlSeconds: 2 })];
    const releaseA = await a.acquire(tenant, session);
    let bHolds = false;
    const waitingB = b.acquire(tenant, session).then((release) => {
      bHolds = true;
      return release;
    });
    await pause(4_500);
    expect(bHolds).toBe(false);
    await releaseA();
    await (
      await waitingB
    )();
    expect(bHolds).toBe(true);
  });

  it("frees a session whose holder died once its claim expires", async () => {
    const b = await replica();
    // A crashed replica's claim: its token, its TTL, and nobody left to renew or release it.
    await redis.client().set(sessionLockKey(tenant, session), "dead-replica:claim", "EX", 1);
    const started = Date.now();
    const release = await b.acquire(tenant, session);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect((await redis.client().get(sessionLockKey(tenant, session)))?.startsWith(`${process.pid}:`)).toBe(true);
    await release();
  });

  it("stops waiting when the client goes away, refusing with 499 and leaving no waiter behind", async () => {
    const [a, b] = [await replica(), await replica()];
    const releaseA = await a.acquire(tenant, session);
    const client = new AbortController();
    const waiting = b.acquire(tenant, session, client.signal);
    await pause(100);
    client.abort();
    await expect(waiting).rejects.toMatchObject({ name: "RequestError", status: 499, code: "client_closed_request" });
    expect(b.size).toBe(0);
    await releaseA();
  });

  it("with Redis down, still serialises the turns of this process and lets them run", async () => {
    const a = await replica();
    await redis.stop();
    await expect.poll(() => stores[0].isHealthy(), { timeout: 5_000 }).toBe(false);
    const events: string[] = [];
    const first = await a.acquire(tenant, session);
    const second = a.acquire(tenant, session).then((release) => {
      events.push("second holds");
      return release;
    });
    await pause(100);
    expect(events).toEqual([]);
    await first();
    await (
      await second
    )();
    expect(events).toEqual(["second holds"]);
    await redis.restart();
  });

  it("leaves no lock behind when a claim timed out in a stall (SIGSTOP) and Redis applied it late", async () => {
    const [a, b] = [await replica(), await replica()];
    const inspect = redis.client();
    redis.pause();
    let release: () => Promise<void>;
    try {
      // The claim gets no answer within the deadline: the turn runs under this process's lock alone.
      release = await a.acquire(tenant, session);
    } finally {
      redis.resume();
    }
    await release();
    await expect.poll(() => inspect.exists(sessionLockKey(tenant, session)), { timeout: 5_000, interval: 50 }).toBe(0);
    const next = await b.acquire(tenant, session);
    expect(await inspect.exists(sessionLockKey(tenant, session))).toBe(1);
    await next();
    expect(await inspect.exists(sessionLockKey(tenant, session))).toBe(0);
  });
});
