import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MetricsSummary } from "@/lib/api/types";
import { FLUSH_CHANNEL } from "@/lib/cache/flush";
import { sessionLockKey } from "@/lib/cache/keys";
import {
  RedisBlobStore,
  createRedisClient,
  waitUntilReady as waitUntilStoreReady,
} from "@/lib/cache/store/redisBlobStore";
import { decodeChatEvent } from "@/lib/client/chatEvents";
import { createSseParser } from "@/lib/client/sseParser";
import { parseTenantId } from "@/lib/ids";
import { createLogger } from "@/lib/log";
import { parseSessionId, SessionStore } from "@/lib/server/sessions";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
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
} from "./apiApp";

/**
 * Two replicas of the app (two app processes) sharing one Redis: what one computed or stored (L1 features,
 * L3 answers, chat sessions) serves the other, and what an admin flush through one removed is gone from both.
 */
let redis: TestRedis;
let first: ApiApp;
let second: ApiApp;
const ADMIN_KEY = "admin-replicas";

beforeAll(async () => {
  await buildOnce();
  redis = await startTestRedis();
  first = await startApiApp("replica-a", { REDIS_URL: redis.url, ADMIN_API_KEY: ADMIN_KEY });
  second = await startApiApp("replica-b", { REDIS_URL: redis.url });
}, 600_000);

afterAll(async () => {
  await Promise.all(onTeardown.map((close) => close()));
  await first?.stop();
  await second?.stop();
  await redis?.teardown();
});

const chat = (app: ApiApp, body: unknown) => postChat(app.baseUrl, body).then(answerOf);

const onTeardown: (() => Promise<void>)[] = [];

/** The stored sessions, read straight from the shared Redis. */
async function openedSessions(): Promise<SessionStore> {
  const client = createRedisClient(redis.url);
  expect(await waitUntilStoreReady(client, 5_000)).toBe(true);
  const store = new RedisBlobStore(client, createLogger("silent"));
  onTeardown.push(() => store.close());
  return new SessionStore(store, { ttlSeconds: 600, firstTurnTtlSeconds: 600 });
}

/** Reads a chat stream until its first token; returns the session it named and the text streamed so far. */
async function readUntilToken(response: Response): Promise<{ sessionId: string; text: string }> {
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const parser = createSseParser();
  const decoder = new TextDecoder();
  let sessionId: string | null = null;
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the stream ended before its first token");
    for (const message of parser.push(decoder.decode(value, { stream: true }))) {
      const event = decodeChatEvent(message);
      if (event?.type === "meta") sessionId = event.data.sessionId;
      if (event?.type === "token") text += event.data.text;
    }
    if (sessionId !== null && text.length > 0) return { sessionId, text };
  }
}
const summaryOf = async (app: ApiApp) =>
  (await (await fetch(`${app.baseUrl}/api/metrics/summary`)).json()) as MetricsSummary;

describe("replicas sharing one Redis", () => {
  it("serve an image uploaded to one from L1 on the other, without running its vision encoder", async () => {
    const { imageId } = await uploadImage(
      first.baseUrl,
      await img.png(
        img.quadrantsRgb(120, 90, [
          [9, 9, 9],
          [200, 10, 10],
          [10, 200, 10],
          [10, 10, 200],
        ]),
      ),
    );
    await waitUntilReady(first.baseUrl, imageId);
    expect(await metricValue(first.baseUrl, "vlcache_vision_encoder_runs_total")).toBe(1);

    const answer = await chat(second, {
      message: { text: "What is shown?", imageIds: [imageId] },
      params: { maxNewTokens: 8 },
    });
    expect(answer.meta.cache.features).toEqual([{ imageId, source: "l1" }]);
    expect(await metricValue(second.baseUrl, "vlcache_vision_encoder_runs_total")).toBe(0);
    const summary = await summaryOf(second);
    expect(summary.visionEncoderRuns).toBe(0);
    expect(summary.levels.l1.hits).toBeGreaterThanOrEqual(1);

    // The answer the second replica stored (L3, in Redis) is the first replica's answer to the same question.
    const elsewhere = await chat(first, {
      message: { text: "What is shown?", imageIds: [imageId] },
      params: { maxNewTokens: 8 },
    });
    expect(elsewhere.meta.cache.response).toBe("hit");
    expect(elsewhere.text).toBe(answer.text);
  });

  it("continue each other's chat sessions", async () => {
    const { imageId } = await uploadImage(first.baseUrl, await img.png(img.patternRgb(64, 64)));
    const opening = await chat(first, {
      message: { text: "Look at this.", imageIds: [imageId] },
      params: { maxNewTokens: 6 },
    });
    const followUp = await chat(second, {
      sessionId: opening.meta.sessionId,
      message: { text: "What next?" },
      params: { maxNewTokens: 6 },
    });
    expect(followUp.meta.sessionId).toBe(opening.meta.sessionId);
    expect(followUp.done.usage.promptTokens).toBeGreaterThan(
      opening.done.usage.promptTokens + opening.done.usage.completionTokens,
    );

    // Replayed on one replica with caches off, the conversation gives the same answers.
    const off = { l1: false, l2: false, l3: false };
    const a = await chat(first, {
      message: { text: "Look at this.", imageIds: [imageId] },
      params: { maxNewTokens: 6 },
      cache: off,
    });
    const b = await chat(first, {
      sessionId: a.meta.sessionId,
      message: { text: "What next?" },
      params: { maxNewTokens: 6 },
      cache: off,
    });
    expect([a.text, b.text]).toEqual([opening.text, followUp.text]);
  });

  it("run a session's turns one at a time: a follow-up sent to the other replica right after Stop builds on the stopped turn", async () => {
    const stop = new AbortController();
    const response = await fetch(`${first.baseUrl}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: { text: "Tell a long story." }, params: { maxNewTokens: 4096 } }),
      signal: stop.signal,
    });
    const streamed = await readUntilToken(response);
    stop.abort();
    // Sent at once: the first replica may still be saving the stopped turn — the follow-up waits for it.
    const followUp = await chat(second, {
      sessionId: streamed.sessionId,
      message: { text: "Shorter, please." },
      params: { maxNewTokens: 4 },
    });

    const session = await (await openedSessions()).load(parseTenantId("public")!, parseSessionId(streamed.sessionId)!);
    expect(session?.turns.map((turn) => turn.user.text)).toEqual(["Tell a long story.", "Shorter, please."]);
    expect(session!.turns[0].answer.startsWith(streamed.text)).toBe(true);
    expect(session!.turns[1].answer).toBe(followUp.text);
    expect(
      await redis.client().exists(sessionLockKey(parseTenantId("public")!, parseSessionId(streamed.sessionId)!)),
    ).toBe(0);
  });

  it("forget in process what an admin flush through the other replica removed", async () => {
    const { imageId } = await uploadImage(first.baseUrl, await img.png(img.patternRgb(80, 48)));
    await waitUntilReady(first.baseUrl, imageId);
    const ask = (text: string) => chat(second, { message: { text, imageIds: [imageId] }, params: { maxNewTokens: 4 } });
    expect((await ask("Before the flush?")).meta.cache.features).toEqual([{ imageId, source: "l1" }]);
    const levelBytes = async (app: ApiApp) => Object.values((await summaryOf(app)).levels).map((level) => level.bytes);
    for (const bytes of await levelBytes(second)) expect(bytes).toBeGreaterThan(0);
    // Each replica follows flush notices from the moment its model is ready.
    await expect
      .poll(async () => ((await redis.client().pubsub("NUMSUB", FLUSH_CHANNEL)) as [string, number])[1])
      .toBe(2);

    // Every test here asks as the `public` tenant, so flushing it at every level leaves both replicas' levels empty.
    const response = await fetch(`${first.baseUrl}/api/admin/cache?level=all`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(response.status).toBe(200);
    const flushed = (await response.json()) as {
      tenant: string;
      flushed: Record<string, { storeEntries: number; inProcess: number }>;
    };
    expect(flushed.tenant).toBe("public");
    expect(Object.keys(flushed.flushed)).toEqual(["l1", "l2", "l3"]);
    expect(flushed.flushed.l1.storeEntries).toBeGreaterThanOrEqual(1);

    await expect.poll(() => levelBytes(second)).toEqual([0, 0, 0]);
    expect(await levelBytes(first)).toEqual([0, 0, 0]);
    const runsBefore = await metricValue(second.baseUrl, "vlcache_vision_encoder_runs_total");
    const after = await ask("After the flush?");
    expect(after.meta.cache).toMatchObject({
      features: [{ imageId, source: "computed" }],
      prefix: { reused: 0 },
      response: "miss",
    });
    expect(await metricValue(second.baseUrl, "vlcache_vision_encoder_runs_total")).toBe(runsBefore + 1);
  });
});
