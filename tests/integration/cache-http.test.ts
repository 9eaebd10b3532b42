import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageInfoResponse, MetricsSummary } from "@/lib/api/types";
import { levelPrefix } from "@/lib/cache/keys";
import { parseTenantId } from "@/lib/ids";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
import { patternRgb, png } from "@/tests/support/testImages";
import { answerOf, buildOnce, postChat, startApiApp, uploadImage, waitUntilReady, type ApiApp } from "./apiApp";

/**
 * The cache wiring through the real app (the app's server, the default test model, a real redis-server): the upload
 * precompute seen through GET /api/images/:id, GET /api/metrics/summary, and DELETE /api/admin/cache.
 */
let redis: TestRedis;
let app: ApiApp;
const ADMIN_KEY = "admin-cache-http";

beforeAll(async () => {
  redis = await startTestRedis();
  await buildOnce();
  app = await startApiApp("cache-http", { REDIS_URL: redis.url, ADMIN_API_KEY: ADMIN_KEY });
}, 600_000);
afterAll(async () => {
  await app?.stop();
  await redis?.teardown();
});

describe("cache routes", () => {
  it("encodes an upload in the background and reports encoding → ready with the time it took", async () => {
    const uploaded = await uploadImage(app.baseUrl, await png(patternRgb(200, 150)));
    expect(uploaded.status).toBe("encoding");
    await waitUntilReady(app.baseUrl, uploaded.imageId);
    const info = (await (await fetch(`${app.baseUrl}/api/images/${uploaded.imageId}`)).json()) as ImageInfoResponse;
    expect(info.status).toBe("ready");
    expect(info.encodingMs).toBeGreaterThanOrEqual(0);
    const answer = answerOf(
      await postChat(app.baseUrl, {
        message: { text: "What is this?", imageIds: [uploaded.imageId] },
        params: { maxNewTokens: 4 },
      }),
    );
    expect(answer.meta.cache.features).toEqual([{ imageId: uploaded.imageId, source: "precomputed" }]);
  });

  it("summarises the cache metrics as MetricsSummary JSON", async () => {
    const summary = (await (await fetch(`${app.baseUrl}/api/metrics/summary`)).json()) as MetricsSummary;
    expect(Object.keys(summary.levels).sort()).toEqual(["l1", "l2", "l3"]);
    expect(summary.visionEncoderRuns).toBeGreaterThanOrEqual(1);
    expect(summary.visionEncoderRunsSaved).toBeGreaterThanOrEqual(1);
    expect(summary.levels.l1.capacityBytes).toBe(256 * 1024 * 1024);
    expect(summary.levels.l2.capacityBytes).toBe(1024 * 1024 * 1024);
    expect(summary.ttft.hit.length).toBe(summary.ttft.upperBoundsMs.length + 1);
    expect(summary.ttft.hit.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(summary.startedAt).toBe(app.health.startedAt);
  });

  it("flushes one tenant's level through DELETE /api/admin/cache, and refuses an unknown level", async () => {
    const headers = { "x-vlcache-tenant": "team-flush" };
    const uploaded = await uploadImage(app.baseUrl, await png(patternRgb(96, 96)), headers);
    await waitUntilReady(app.baseUrl, uploaded.imageId, headers);
    const body = { message: { text: "Flush?", imageIds: [uploaded.imageId] }, params: { maxNewTokens: 3 } };
    answerOf(await postChat(app.baseUrl, body, headers));
    expect(answerOf(await postChat(app.baseUrl, body, headers)).meta.cache.response).toBe("hit");
    const tenant = parseTenantId("team-flush")!;
    expect((await redis.client().keys(`${levelPrefix(tenant, "l3")}*`)).length).toBeGreaterThan(0);

    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const response = await fetch(`${app.baseUrl}/api/admin/cache?level=l3&tenant=team-flush`, {
      method: "DELETE",
      headers: admin,
    });
    expect(response.status).toBe(200);
    const flushed = (await response.json()) as {
      tenant: string;
      flushed: Record<string, { storeEntries: number; inProcess: number }>;
    };
    expect(flushed.tenant).toBe("team-flush");
    expect(Object.keys(flushed.flushed)).toEqual(["l3"]);
    expect(flushed.flushed.l3.storeEntries).toBeGreaterThan(0);
    expect((await redis.client().keys(`${levelPrefix(tenant, "l3")}*`)).length).toBe(0);
    expect((await redis.client().keys(`${levelPrefix(tenant, "l1")}*`)).length).toBeGreaterThan(0);
    expect(answerOf(await postChat(app.baseUrl, body, headers)).meta.cache.response).toBe("miss");

    const bad = await fetch(`${app.baseUrl}/api/admin/cache?level=l9`, { method: "DELETE", headers: admin });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_level");
  });
});
