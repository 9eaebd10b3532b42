import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
import * as img from "@/tests/support/testImages";
import { answerOf, buildOnce, postChat, startApiApp, uploadImage, type ApiApp } from "./apiApp";

/**
 * Limits, tenants and failure answers of the real app: a tiny rate-limit bucket, small body and prompt limits, no
 * queue; an app that trusts no proxy; and an app whose bundle does not exist. The test speaks to `app` as a trusted
 * proxy would (TRUSTED_PROXIES=127.0.0.1), naming a client address per test in x-forwarded-for, so each test has its
 * own rate-limit bucket.
 */
let redis: TestRedis;
let app: ApiApp;
let direct: ApiApp;
let broken: ApiApp;

beforeAll(async () => {
  await buildOnce();
  redis = await startTestRedis();
  app = await startApiApp("limits", {
    REDIS_URL: redis.url,
    RATE_LIMIT_PER_MINUTE: "1",
    RATE_LIMIT_BURST: "2",
    MAX_JSON_BODY_BYTES: "4096",
    MAX_PROMPT_CHARS: "100",
    MAX_QUEUED_REQUESTS: "0",
    TRUSTED_PROXIES: "127.0.0.1,::1",
  });
  direct = await startApiApp("no-proxy", { REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: "1", RATE_LIMIT_BURST: "2" });
  broken = await startApiApp("broken-model", { REDIS_URL: redis.url, MODEL_DIR: "/nonexistent/bundle" });
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await direct?.stop();
  await broken?.stop();
  await redis?.teardown();
});

const from = (address: string, extra: Record<string, string> = {}) => ({ "x-forwarded-for": address, ...extra });
const hello = { message: { text: "hi" }, params: { maxNewTokens: 1 } };

describe("rate limit", () => {
  it("lets a client's burst through, then answers 429 with Retry-After, other clients unaffected", async () => {
    expect((await postChat(app.baseUrl, hello, from("10.0.0.1"))).status).toBe(200);
    expect((await postChat(app.baseUrl, hello, from("10.0.0.1"))).status).toBe(200);
    const refused = await postChat(app.baseUrl, hello, from("10.0.0.1"));
    expect(refused).toMatchObject({
      status: 429,
      error: { code: "rate_limited", message: "too many requests from this client; retry in 60 s" },
    });
    expect(refused.headers.get("retry-after")).toBe("60");
    // The bucket is per client, and shared by the routes that cost work (uploads, completions).
    expect((await postChat(app.baseUrl, hello, from("10.0.0.2"))).status).toBe(200);
    const completions = await fetch(`${app.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: from("10.0.0.1"),
      body: "{}",
    });
    expect(completions.status).toBe(429);
    expect((await completions.json()).error).toMatchObject({ code: "rate_limited", type: "rate_limit_error" });
    // Health and reads are not limited.
    expect((await fetch(`${app.baseUrl}/api/health`, { headers: from("10.0.0.1") })).status).toBe(200);
  });

  it("keys on the connection's address when no proxy is trusted, whatever x-forwarded-for and the tenant header say", async () => {
    expect((await postChat(direct.baseUrl, hello, from("10.7.0.1"))).status).toBe(200);
    expect(
      (await postChat(direct.baseUrl, hello, from("10.7.0.2", { "x-vlcache-client-address": "10.7.0.2" }))).status,
    ).toBe(200);
    const refused = await postChat(direct.baseUrl, hello, from("10.7.0.3", { "x-vlcache-tenant": "elsewhere" }));
    expect(refused).toMatchObject({ status: 429, error: { code: "rate_limited" } });
  });
});

describe("size limits", () => {
  it("refuses a body over MAX_JSON_BODY_BYTES and a message over MAX_PROMPT_CHARS with 413", async () => {
    const big = await postChat(app.baseUrl, { message: { text: "x".repeat(5000) } }, from("10.0.1.1"));
    expect(big).toMatchObject({ status: 413, error: { code: "payload_too_large" } });
    const long = await postChat(app.baseUrl, { message: { text: "y".repeat(101) } }, from("10.0.1.1"));
    expect(long).toMatchObject({
      status: 413,
      error: { code: "prompt_too_large", message: expect.stringContaining("limit of 100") },
    });
  });
});

describe("queue", () => {
  it("answers 503 with Retry-After while the engine is busy and nothing may wait", async () => {
    const controller = new AbortController();
    const long = await fetch(`${app.baseUrl}/api/chat`, {
      method: "POST",
      headers: from("10.0.2.1"),
      body: JSON.stringify({ message: { text: "a long answer" }, params: { maxNewTokens: 8000 } }),
      signal: controller.signal,
    });
    const reader = long.body!.getReader();
    let received = "";
    while (!received.includes("event: token")) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`the long answer ended early: ${received}`);
      received += new TextDecoder().decode(chunk.value);
    }
    // Not `hello`, whose answer is in the response cache by now: an L3 answer needs no engine slot.
    const refused = await postChat(app.baseUrl, { ...hello, cache: { l3: false } }, from("10.0.2.2"));
    controller.abort();
    expect(refused).toMatchObject({ status: 503, error: { code: "queue_full" } });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});

describe("tenants", () => {
  it("keeps an image to the tenant the header names, and refuses a malformed tenant with 400", async () => {
    const team = { "x-vlcache-tenant": "team-a" };
    const { imageId } = await uploadImage(app.baseUrl, await img.png(img.patternRgb(64, 48)), from("10.0.3.1", team));
    const question = { message: { text: "what?", imageIds: [imageId] }, params: { maxNewTokens: 2 } };
    expect(await postChat(app.baseUrl, question, from("10.0.3.2"))).toMatchObject({
      status: 404,
      error: { code: "image_not_found" },
    });
    expect((await fetch(`${app.baseUrl}/api/images/${imageId}`)).status).toBe(404);
    answerOf(await postChat(app.baseUrl, question, from("10.0.3.3", team)));
    expect(await postChat(app.baseUrl, hello, from("10.0.4.2", { "x-vlcache-tenant": "Team A" }))).toMatchObject({
      status: 400,
      error: { code: "invalid_tenant" },
    });
  });
});

describe("admin and metrics routes without their keys configured", () => {
  it("refuses admin routes with 403 whatever the request sends, and serves metrics to anyone", async () => {
    for (const headers of [{}, { authorization: "Bearer anything" }] as Record<string, string>[]) {
      const flush = await fetch(`${app.baseUrl}/api/admin/cache`, { method: "DELETE", headers });
      expect(flush.status).toBe(403);
      expect(await flush.json()).toEqual({
        error: {
          code: "admin_disabled",
          message: "admin routes are off on this server; set ADMIN_API_KEY to use them",
        },
      });
    }
    expect((await fetch(`${app.baseUrl}/api/metrics`)).status).toBe(200);
  });
});

describe("images the model cannot take", () => {
  it("stores an image smaller than the model's patch grid, and refuses questions about it with 422", async () => {
    const tiny = await uploadImage(app.baseUrl, await img.png(img.patternRgb(20, 12)), from("10.0.5.1"));
    expect(tiny).toMatchObject({ width: 20, height: 12, status: "ready" });
    const question = { message: { text: "what?", imageIds: [tiny.imageId] } };
    expect(await postChat(app.baseUrl, question, from("10.0.5.2"))).toMatchObject({
      status: 422,
      error: { code: "invalid_image", message: expect.stringContaining("at least 32 pixels") },
    });
  });
});

describe("a bundle that does not load", () => {
  it("is reported by /api/health, and generating requests answer 503 with the reason", async () => {
    expect(broken.health).toMatchObject({
      status: "degraded",
      model: null,
      modelError: {
        code: "model_dir_missing",
        message:
          "MODEL_DIR=/nonexistent/bundle does not exist; convert a checkpoint into it with npm run convert (see README)",
      },
      redis: { mode: "external", healthy: true },
    });
    const chat = await postChat(broken.baseUrl, hello);
    expect(chat).toMatchObject({
      status: 503,
      error: { code: "model_unavailable", message: expect.stringContaining("/nonexistent/bundle") },
    });
    const models = await fetch(`${broken.baseUrl}/v1/models`);
    expect(models.status).toBe(503);
    expect((await models.json()).error).toMatchObject({ code: "model_unavailable", type: "server_error" });
    // The process still serves everything that needs no model.
    const upload = await uploadImage(broken.baseUrl, await img.png(img.patternRgb(48, 48)));
    expect(upload.status).toBe("ready");
  });
});
