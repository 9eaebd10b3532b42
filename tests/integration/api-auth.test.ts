import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
import * as img from "@/tests/support/testImages";
import { answerOf, buildOnce, postChat, startApiApp, uploadImage, waitUntilReady, type ApiApp } from "./apiApp";

/**
 * API keys through the real app (its HTTP server around Next.js, a real redis-server, the test model): with API_KEYS
 * set, every route but /api/health needs a listed Bearer key, which alone names the tenant; admin routes need
 * ADMIN_API_KEY and metrics METRICS_API_KEY. The attacker here knows team A's image and session ids and its tenant
 * name, but not its key. `app` checks every key it is sent (MAX_FAILED_KEYS_PER_MINUTE=0); `throttled` allows
 * FAILED_KEYS wrong keys per client address and is spoken to as a trusted proxy would, naming a client address per
 * test in x-forwarded-for.
 */
let redis: TestRedis;
let app: ApiApp;
let throttled: ApiApp;

const KEY_A = "sk-team-a-0123456789";
const KEY_B = "sk-team-b-0123456789";
const ADMIN_KEY = "admin-0123456789abcdef";
const METRICS_KEY = "metrics-0123456789abcdef";
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const FAILED_KEYS = 5;

beforeAll(async () => {
  await buildOnce();
  redis = await startTestRedis();
  const keys = {
    REDIS_URL: redis.url,
    API_KEYS: `${KEY_A}=team-a,${KEY_B}=team-b`,
    ADMIN_API_KEY: ADMIN_KEY,
    METRICS_API_KEY: METRICS_KEY,
  };
  [app, throttled] = await Promise.all([
    startApiApp("auth", { ...keys, MAX_FAILED_KEYS_PER_MINUTE: "0" }),
    startApiApp("auth-throttled", {
      ...keys,
      MAX_FAILED_KEYS_PER_MINUTE: String(FAILED_KEYS),
      TRUSTED_PROXIES: "127.0.0.1,::1",
    }),
  ]);
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await throttled?.stop();
  await redis?.teardown();
});

/** Team A's image and session, made with its key. */
async function teamAData() {
  const { imageId } = await uploadImage(app.baseUrl, await img.png(img.patternRgb(64, 48)), bearer(KEY_A));
  await waitUntilReady(app.baseUrl, imageId, bearer(KEY_A));
  const turn = answerOf(
    await postChat(
      app.baseUrl,
      { message: { text: "What is it?", imageIds: [imageId] }, params: { maxNewTokens: 3 } },
      bearer(KEY_A),
    ),
  );
  return { imageId, sessionId: turn.meta.sessionId };
}

/** Every way of not presenting a listed key; each also names team A's tenant, which must not matter. */
const NOT_A_KEY: Record<string, Record<string, string>> = {
  "no key": { "x-vlcache-tenant": "team-a" },
  "Basic credentials": {
    authorization: `Basic ${Buffer.from(`team-a:${KEY_A}`).toString("base64")}`,
    "x-vlcache-tenant": "team-a",
  },
  "a malformed Bearer": { authorization: `Bearer ${KEY_A} x`, "x-vlcache-tenant": "team-a" },
  "an empty Bearer": { authorization: "Bearer ", "x-vlcache-tenant": "team-a" },
};

describe("with API_KEYS set", () => {
  it("answers health without a key", async () => {
    expect((await fetch(`${app.baseUrl}/api/health`)).status).toBe(200);
  });

  it("refuses every tenant route to a request without a listed key, with a 401 JSON answer and a Bearer challenge", async () => {
    const { imageId, sessionId } = await teamAData();
    const form = new FormData();
    form.append("image", new Blob([new Uint8Array(await img.png(img.patternRgb(40, 40)))]), "x.png");
    const routes: [string, string, BodyInit | undefined][] = [
      ["GET", `/api/images/${imageId}`, undefined],
      ["GET", `/api/images/${imageId}?raw=1`, undefined],
      ["POST", "/api/images", form],
      ["POST", "/api/chat", JSON.stringify({ sessionId, message: { text: "and now?" } })],
      ["DELETE", `/api/sessions/${sessionId}`, undefined],
      ["GET", "/v1/models", undefined],
      ["POST", "/v1/chat/completions", JSON.stringify({ model: "x", messages: [{ role: "user", content: "hi" }] })],
      ["GET", "/api/metrics", undefined],
      ["GET", "/api/metrics/summary", undefined],
      ["DELETE", "/api/admin/cache?tenant=team-a", undefined],
    ];
    for (const [attempt, headers] of Object.entries(NOT_A_KEY)) {
      for (const [method, route, body] of routes) {
        const response = await fetch(`${app.baseUrl}${route}`, { method, headers, body });
        expect(response.status, `${method} ${route} with ${attempt}`).toBe(401);
        expect(response.headers.get("www-authenticate")).toBe('Bearer realm="vlcache"');
        expect((await response.json()).error.code).toBe("missing_api_key");
      }
    }
    // An unlisted key, and keys of other roles, are no tenant keys.
    for (const key of ["sk-guess", ADMIN_KEY, METRICS_KEY]) {
      expect(await postChat(app.baseUrl, { message: { text: "hi" } }, bearer(key))).toMatchObject({
        status: 401,
        error: { code: "invalid_api_key" },
      });
    }
    // Team A's data is untouched, and still its own.
    expect((await fetch(`${app.baseUrl}/api/images/${imageId}`, { headers: bearer(KEY_A) })).status).toBe(200);
    const followUp = answerOf(
      await postChat(
        app.baseUrl,
        { sessionId, message: { text: "And now?" }, params: { maxNewTokens: 2 } },
        bearer(KEY_A),
      ),
    );
    expect(followUp.meta.sessionId).toBe(sessionId);
  });

  it("gives each key its own tenant, whatever tenant header it sends", async () => {
    const { imageId, sessionId } = await teamAData();
    const asB = { ...bearer(KEY_B), "x-vlcache-tenant": "team-a" };
    expect((await fetch(`${app.baseUrl}/api/images/${imageId}`, { headers: asB })).status).toBe(404);
    expect((await fetch(`${app.baseUrl}/api/images/${imageId}?raw=1`, { headers: asB })).status).toBe(404);
    expect(await postChat(app.baseUrl, { sessionId, message: { text: "mine now?" } }, asB)).toMatchObject({
      status: 404,
      error: { code: "session_not_found" },
    });
    expect((await fetch(`${app.baseUrl}/api/sessions/${sessionId}`, { method: "DELETE", headers: asB })).status).toBe(
      404,
    );
    // Team A still has both.
    expect((await fetch(`${app.baseUrl}/api/images/${imageId}?raw=1`, { headers: bearer(KEY_A) })).status).toBe(200);
    expect(
      (await fetch(`${app.baseUrl}/api/sessions/${sessionId}`, { method: "DELETE", headers: bearer(KEY_A) })).status,
    ).toBe(204);
  });

  it("lets only ADMIN_API_KEY flush, any tenant it names", async () => {
    const { imageId } = await teamAData();
    const question = { message: { text: "Cached?", imageIds: [imageId] }, params: { maxNewTokens: 2 } };
    answerOf(await postChat(app.baseUrl, question, bearer(KEY_A)));
    expect(answerOf(await postChat(app.baseUrl, question, bearer(KEY_A))).meta.cache.response).toBe("hit");

    for (const key of [KEY_A, METRICS_KEY, `${ADMIN_KEY}x`]) {
      const refused = await fetch(`${app.baseUrl}/api/admin/cache?level=l3&tenant=team-a`, {
        method: "DELETE",
        headers: bearer(key),
      });
      expect(refused.status).toBe(401);
      expect((await refused.json()).error.code).toBe("invalid_api_key");
    }
    expect(answerOf(await postChat(app.baseUrl, question, bearer(KEY_A))).meta.cache.response).toBe("hit");

    const flushed = await fetch(`${app.baseUrl}/api/admin/cache?level=l3&tenant=team-a`, {
      method: "DELETE",
      headers: bearer(ADMIN_KEY),
    });
    expect(flushed.status).toBe(200);
    expect(await flushed.json()).toMatchObject({
      tenant: "team-a",
      flushed: { l3: { storeEntries: expect.any(Number) } },
    });
    expect(answerOf(await postChat(app.baseUrl, question, bearer(KEY_A))).meta.cache.response).toBe("miss");
  });

  it("serves metrics only with METRICS_API_KEY", async () => {
    for (const key of [KEY_A, ADMIN_KEY]) {
      expect((await fetch(`${app.baseUrl}/api/metrics`, { headers: bearer(key) })).status).toBe(401);
      expect((await fetch(`${app.baseUrl}/api/metrics/summary`, { headers: bearer(key) })).status).toBe(401);
    }
    const text = await fetch(`${app.baseUrl}/api/metrics`, { headers: bearer(METRICS_KEY) });
    expect(text.status).toBe(200);
    expect(await text.text()).toContain("vlcache_cache_requests_total");
    const summary = await fetch(`${app.baseUrl}/api/metrics/summary`, { headers: bearer(METRICS_KEY) });
    expect(Object.keys((await summary.json()).levels).sort()).toEqual(["l1", "l2", "l3"]);
  });
});

describe("with MAX_FAILED_KEYS_PER_MINUTE set", () => {
  /** One route of each kind of key, answered 200 to its key: a tenant route, the admin route, a metrics route. */
  const ROUTES = {
    tenant: { method: "GET", path: "/v1/models", key: KEY_A },
    admin: { method: "DELETE", path: "/api/admin/cache?level=l3&tenant=team-a", key: ADMIN_KEY },
    metrics: { method: "GET", path: "/api/metrics/summary", key: METRICS_KEY },
  };
  type RouteKind = keyof typeof ROUTES;

  /** A request to a `kind` route from client `address`, with `key` (null: none). */
  const call = (address: string, kind: RouteKind, key: string | null) =>
    fetch(`${throttled.baseUrl}${ROUTES[kind].path}`, {
      method: ROUTES[kind].method,
      headers: { "x-forwarded-for": address, ...(key === null ? {} : bearer(key)) },
    });

  /** Checks an error answer's status and code; returns its message. */
  async function expectError(response: Response, status: number, code: string): Promise<string> {
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect({ status: response.status, code: error.code }).toEqual({ status, code });
    return error.message;
  }

  it("after that many wrong keys from an address, refuses its keys unchecked (429), for every kind of key; other addresses are not held back", async () => {
    const guesser = "10.9.0.1";
    const guesses: [RouteKind, string][] = [
      ["tenant", "sk-guess-1"],
      ["admin", "admin-guess"],
      ["metrics", "metrics-guess"],
      ["tenant", KEY_B.replace("b", "c")],
      ["admin", KEY_A],
    ];
    expect(guesses).toHaveLength(FAILED_KEYS);
    for (const [kind, key] of guesses) await expectError(await call(guesser, kind, key), 401, "invalid_api_key");

    // Now even the right keys are not checked, and one more guess is not either. (FAILED_KEYS a minute: the next key
    // from this address is checked 60 / FAILED_KEYS = 12 s after the first guess, far more than this test takes.)
    for (const kind of Object.keys(ROUTES) as RouteKind[]) {
      for (const key of [ROUTES[kind].key, "sk-guess-2"]) {
        const refused = await call(guesser, kind, key);
        const message = await expectError(refused, 429, "too_many_failed_keys");
        const retryAfter = Number(refused.headers.get("retry-after"));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(60 / FAILED_KEYS);
        expect(message).toBe(
          `too many wrong API keys from this address; no key from it is checked for the next ${retryAfter} s`,
        );
      }
    }
    // A request without a key guesses nothing: it is answered as ever.
    await expectError(await call(guesser, "tenant", null), 401, "missing_api_key");
    // Another address's right keys work, and so does its first wrong guess.
    for (const kind of Object.keys(ROUTES) as RouteKind[])
      expect((await call("10.9.0.2", kind, ROUTES[kind].key)).status).toBe(200);
    await expectError(await call("10.9.0.2", "tenant", "sk-guess-3"), 401, "invalid_api_key");
  });

  it("a right key between wrong ones resets nothing", async () => {
    const guesser = "10.9.0.3";
    for (let i = 1; i < FAILED_KEYS; i++)
      await expectError(await call(guesser, "tenant", `sk-guess-${i}`), 401, "invalid_api_key");
    expect((await call(guesser, "tenant", KEY_A)).status).toBe(200);
    await expectError(await call(guesser, "tenant", "sk-guess-last"), 401, "invalid_api_key");
    await expectError(await call(guesser, "tenant", KEY_A), 429, "too_many_failed_keys");
  });

  it("checks every key with MAX_FAILED_KEYS_PER_MINUTE=0", async () => {
    for (let i = 0; i < 3 * FAILED_KEYS; i++) {
      const response = await fetch(`${app.baseUrl}/v1/models`, { headers: bearer(`sk-guess-${i}`) });
      expect(response.status).toBe(401);
    }
    expect((await fetch(`${app.baseUrl}/v1/models`, { headers: bearer(KEY_A) })).status).toBe(200);
  });
});
