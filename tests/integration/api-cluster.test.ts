import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MetricsSummary } from "@/lib/api/types";
import { FLUSH_CHANNEL } from "@/lib/cache/flush";
import { levelPrefix } from "@/lib/cache/keys";
import {
  RedisBlobStore,
  createRedisClusterClient,
  waitUntilReady as storeReady,
} from "@/lib/cache/store/redisBlobStore";
import { parseTenantId } from "@/lib/ids";
import { createLogger } from "@/lib/log";
import { parseSessionId, SessionStore } from "@/lib/server/sessions";
import { startTestRedisCluster, type TestRedisCluster } from "@/tests/support/redisCluster";
import * as img from "@/tests/support/testImages";
import {
  answerOf,
  buildOnce,
  metricValue,
  postChat,
  startApiApp,
  uploadImage,
  waitUntilReady,
  type ApiApp,
  type ChatOutcome,
} from "./apiApp";

/**
 * Two replicas of the app (two app processes) sharing one Redis Cluster (3 masters + 3 replicas on loopback): what
 * one stored or computed serves the other, an admin flush through one reaches the other, and a master killed with
 * SIGKILL under traffic loses no uploaded image or saved session, while every request ends, answered or refused
 * with 503 store_unavailable.
 */
const STORE_TIMEOUT_MS = 500;
const ADMIN_KEY = "admin-cluster";
const PUBLIC = parseTenantId("public")!;
let cluster: TestRedisCluster;
let first: ApiApp;
let second: ApiApp;
const closeAfter: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  await buildOnce();
  cluster = await startTestRedisCluster();
  // Every request comes from 127.0.0.1: the rate limit would refuse the traffic of the failover test.
  const env = {
    REDIS_CLUSTER_NODES: cluster.seedNodes,
    STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
    RATE_LIMIT_PER_MINUTE: "0",
  };
  [first, second] = await Promise.all([
    startApiApp("cluster-a", { ...env, ADMIN_API_KEY: ADMIN_KEY }),
    startApiApp("cluster-b", env),
  ]);
}, 600_000);

afterAll(async () => {
  for (const store of closeAfter) await store.close();
  await first?.stop();
  await second?.stop();
  await cluster?.teardown();
});

const chat = (app: ApiApp, body: unknown) => postChat(app.baseUrl, body).then(answerOf);
const summaryOf = async (app: ApiApp) =>
  (await (await fetch(`${app.baseUrl}/api/metrics/summary`)).json()) as MetricsSummary;

/** One conversation, turn i sent to `apps[i]`; its session, first turn and answers. */
async function converse(apps: ApiApp[], turns: { text: string; imageIds?: string[] }[], cache?: object) {
  let sessionId: string | undefined;
  const answered = [];
  for (const [i, message] of turns.entries()) {
    const answer = await chat(apps[i], { sessionId, message, params: { maxNewTokens: 6 }, cache });
    sessionId = answer.meta.sessionId;
    answered.push(answer);
  }
  return { sessionId: sessionId!, first: answered[0], answers: answered.map((answer) => answer.text) };
}

/** The sessions as stored in the cluster, read by a store of this test's own. */
async function storedSessions(): Promise<SessionStore> {
  const client = createRedisClusterClient(cluster.nodes);
  expect(await storeReady(client, 5_000)).toBe(true);
  const store = new RedisBlobStore(client, createLogger("silent"));
  closeAfter.push(store);
  return new SessionStore(store, { ttlSeconds: 600, firstTurnTtlSeconds: 600 });
}

describe("replicas sharing one Redis Cluster", () => {
  it("report the cluster store healthy", async () => {
    for (const app of [first, second]) {
      expect(app.health.status).toBe("ok");
      expect(app.health.redis).toEqual({ mode: "external", healthy: true });
    }
  });

  it("serve an image uploaded to one from L1 on the other, and continue each other's sessions", async () => {
    const { imageId } = await uploadImage(first.baseUrl, await img.png(img.patternRgb(96, 72)));
    await waitUntilReady(first.baseUrl, imageId);
    const turns = [{ text: "What is shown?", imageIds: [imageId] }, { text: "And then?" }];
    const shared = await converse([second, first], turns);
    expect(shared.first.meta.cache.features).toEqual([{ imageId, source: "l1" }]);
    expect(await metricValue(second.baseUrl, "vlcache_vision_encoder_runs_total")).toBe(0);
    const session = await (await storedSessions()).load(PUBLIC, parseSessionId(shared.sessionId)!);
    expect(session?.turns.map((turn) => [turn.user.text, turn.answer])).toEqual(
      turns.map((turn, i) => [turn.text, shared.answers[i]]),
    );
    // The same conversation on one replica with every cache off gives the same answers.
    const alone = await converse([second, second], turns, { l1: false, l2: false, l3: false });
    expect(alone.answers).toEqual(shared.answers);
  });

  it("continue a conversation on the other replica from L2's store tier, token-identical to caches off", async () => {
    // Long enough for several whole 64-token KV blocks.
    const opening = `Remember these words: ${Array.from({ length: 80 }, (_, i) => `word${i}`).join(" ")}.`;
    const turns = [{ text: opening }, { text: "Which was the last one?" }];
    const firstTurn = await chat(first, { message: turns[0], params: { maxNewTokens: 6 } });
    // The first replica writes the turn's blocks in the background: wait until its written bytes stop growing.
    const written = () => metricValue(first.baseUrl, "vlcache_l2_store_bytes_total");
    const settled = async () => {
      const before = await written();
      await new Promise((resolve) => setTimeout(resolve, 200));
      return before > 0 && before === (await written());
    };
    await expect.poll(settled).toBe(true);
    const followUp = await chat(second, {
      sessionId: firstTurn.meta.sessionId,
      message: turns[1],
      params: { maxNewTokens: 6 },
    });
    const prefix = followUp.meta.cache.prefix;
    expect(prefix.tier).toBe("store");
    expect(prefix.reused).toBeGreaterThanOrEqual(128);
    expect(prefix.reused % 64).toBe(0);
    expect(await metricValue(second.baseUrl, "vlcache_l2_store_bytes_total")).toBeGreaterThan(0);
    const alone = await converse([second, second], turns, { l1: false, l2: false, l3: false });
    expect(alone.answers).toEqual([firstTurn.text, followUp.text]);
  });

  it("forget in process what an admin flush through the other replica removed from every master", async () => {
    const { imageId } = await uploadImage(first.baseUrl, await img.png(img.patternRgb(80, 48)));
    await waitUntilReady(first.baseUrl, imageId);
    const ask = (text: string) => chat(second, { message: { text, imageIds: [imageId] }, params: { maxNewTokens: 4 } });
    expect((await ask("Before the flush?")).meta.cache.features).toEqual([{ imageId, source: "l1" }]);
    await expect.poll(() => cluster.subscribers(FLUSH_CHANNEL)).toBe(2);

    const cached = async () => [
      ...(await cluster.countKeys(levelPrefix(PUBLIC, "l1"))),
      ...(await cluster.countKeys(levelPrefix(PUBLIC, "l3"))),
    ];
    // The entries of this and the earlier tests lie on more than one master.
    expect((await cached()).filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);

    const response = await fetch(`${first.baseUrl}/api/admin/cache?level=all`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(response.status).toBe(200);
    const flushed = (await response.json()) as { flushed: Record<string, { storeEntries: number }> };
    // L1 records and L3 answers of the earlier tests too, wherever their slots put them.
    expect(flushed.flushed.l1.storeEntries).toBeGreaterThanOrEqual(2);
    expect(flushed.flushed.l3.storeEntries).toBeGreaterThanOrEqual(2);
    expect(await cached()).toEqual([0, 0, 0, 0, 0, 0]);

    const levelBytes = async (app: ApiApp) => Object.values((await summaryOf(app)).levels).map((level) => level.bytes);
    await expect.poll(() => levelBytes(second)).toEqual([0, 0, 0]);
    expect(await levelBytes(first)).toEqual([0, 0, 0]);
    const after = await ask("After the flush?");
    expect(after.meta.cache).toMatchObject({ features: [{ imageId, source: "computed" }], response: "miss" });
  });

  it("a master killed under traffic: every request ends, answered or refused 503, and nothing stored is lost", async () => {
    const uploaded: string[] = [];
    const savedSessions: { id: string; answer: string }[] = [];
    const refusals: string[] = [];
    const slowest = { ms: 0 };
    let stop = false;
    let size = 40;

    /** One replica's traffic: upload a new image, ask about it, until stopped. */
    const traffic = async (app: ApiApp) => {
      while (!stop) {
        const started = Date.now();
        size += 1;
        const form = new FormData();
        form.append("image", new Blob([new Uint8Array(await img.png(img.patternRgb(size, 32)))]), "image.png");
        const upload = await fetch(`${app.baseUrl}/api/images`, { method: "POST", body: form });
        const body = (await upload.json()) as { imageId?: string; error?: { code: string } };
        if (upload.status === 201 || upload.status === 200) {
          uploaded.push(body.imageId!);
          const outcome: ChatOutcome = await postChat(app.baseUrl, {
            message: { text: "What is it?", imageIds: [body.imageId] },
            params: { maxNewTokens: 2 },
          });
          if ("events" in outcome) {
            const failed = outcome.events.find((event) => event.type === "error");
            if (failed) refusals.push(`chat event ${failed.data.code}`);
            else {
              const answer = answerOf(outcome);
              savedSessions.push({ id: answer.meta.sessionId, answer: answer.text });
            }
          } else refusals.push(`chat ${outcome.status} ${outcome.error.code}`);
        } else refusals.push(`upload ${upload.status} ${body.error?.code}`);
        slowest.ms = Math.max(slowest.ms, Date.now() - started);
      }
    };

    const running = [traffic(first), traffic(second)];
    await expect.poll(() => savedSessions.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(4);
    const victim = await cluster.masterPortOf(`vlc:v1:public:image:${uploaded[0]}`);
    cluster.kill(victim);
    await cluster.waitUntilOk();
    const savedAtFailover = savedSessions.length;
    // Traffic goes on until both replicas have stored more after the failover.
    await expect.poll(() => savedSessions.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(savedAtFailover + 4);
    stop = true;
    await Promise.all(running);

    // The kill hit the traffic, and every refusal is the store's 503, said as such (never a 404, a 500 or a hang).
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) expect(refusal).toMatch(/^(upload 503|chat 503|chat event) store_unavailable$/);
    expect(slowest.ms).toBeLessThan(20_000);

    // Nothing a user stored is lost: every acknowledged image and every saved turn is there, on both replicas.
    for (const imageId of uploaded) {
      for (const app of [first, second]) expect((await fetch(`${app.baseUrl}/api/images/${imageId}`)).status).toBe(200);
    }
    const sessions = await storedSessions();
    for (const saved of savedSessions) {
      const session = await sessions.load(PUBLIC, parseSessionId(saved.id)!);
      expect(session?.turns.map((turn) => turn.answer)).toEqual([saved.answer]);
    }

    // Caches recover: both replicas are healthy again, and a repeated question is answered from the caches.
    for (const app of [first, second]) {
      await expect
        .poll(async () => ((await (await fetch(`${app.baseUrl}/api/health`)).json()) as { status: string }).status)
        .toBe("ok");
    }
    const question = { message: { text: "Once more?", imageIds: [uploaded.at(-1)] }, params: { maxNewTokens: 2 } };
    const once = await chat(first, question);
    const again = await chat(second, question);
    expect(again.meta.cache.response).toBe("hit");
    expect(again.text).toBe(once.text);
  });
});
