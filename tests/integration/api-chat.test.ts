import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatRequest } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
import * as img from "@/tests/support/testImages";
import { answerOf, buildOnce, postChat, startApiApp, uploadImage, type ApiApp } from "./apiApp";

/**
 * POST /api/chat and DELETE /api/sessions/:id through the real app (`next start`, real redis-server, the tiny
 * random-weight bundle on onnxruntime's CPU provider), with the default bundle built by the app itself.
 */
let redis: TestRedis;
let app: ApiApp;
let imageId: ImageId;
const CACHES_OFF = { l1: false, l2: false, l3: false };
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(async () => {
  await buildOnce();
  redis = await startTestRedis();
  // MODEL_DIR empty = unset: the app builds its default test bundle into its (fresh) CACHE_DIR. The rate limit is off:
  // these tests send more requests in a row than its burst, and api-limits.test.ts tests it.
  app = await startApiApp("chat", { REDIS_URL: redis.url, MODEL_DIR: "", RATE_LIMIT_PER_MINUTE: "0" });
  imageId = (await uploadImage(app.baseUrl, await img.png(img.patternRgb(96, 64)))).imageId;
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await redis?.teardown();
});

const chat = (body: ChatRequest) => postChat(app.baseUrl, body).then(answerOf);

/** The messages asked one after another in a new session with every cache off: the answers, in order. */
async function askAfresh(messages: ChatRequest["message"][], params: ChatRequest["params"]) {
  const answers: ReturnType<typeof answerOf>[] = [];
  for (const message of messages) {
    const sessionId = answers[0]?.meta.sessionId;
    answers.push(await chat({ ...(sessionId === undefined ? {} : { sessionId }), message, params, cache: CACHES_OFF }));
  }
  return answers;
}

describe("the served model", () => {
  it("is the default random-weight test bundle, built on first start and named as such", async () => {
    expect(app.health).toMatchObject({
      status: "ok",
      model: { name: "random-tiny-seed0", isRandomTestModel: true, executionProvider: "cpu" },
      redis: { mode: "external", healthy: true },
    });
    const models = await (await fetch(`${app.baseUrl}/v1/models`)).json();
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(["random-tiny-seed0"]);
    const log = await import("node:fs/promises").then((fs) => fs.readFile(app.logFile, "utf8"));
    const bundleDir = /"bundleDir":"([^"]+tiny-seed0)"/.exec(log)?.[1];
    expect(bundleDir).toMatch(/vlcache-api-chat-.*\/models\/tiny-seed0$/);
    expect(existsSync(`${bundleDir}/vlcache.json`)).toBe(true);
    expect(log).toContain("RANDOM-WEIGHT TEST MODEL");
  });
});

describe("POST /api/chat", () => {
  it("streams meta, then tokens, then done, for a question about an uploaded image", async () => {
    const outcome = await postChat(app.baseUrl, {
      message: { text: "What is in this picture?", imageIds: [imageId] },
      params: { maxNewTokens: 12 },
    });
    expect(outcome.status).toBe(200);
    expect(outcome.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const { meta, text, done, types } = answerOf(outcome);
    expect(types[0]).toBe("meta");
    expect(types.at(-1)).toBe("done");
    expect(types.slice(1, -1).every((t) => t === "token")).toBe(true);
    expect(meta.sessionId).toMatch(SESSION_ID);
    expect(meta.cache.features).toEqual([{ imageId, source: expect.stringMatching(/^(precomputed|l1|computed)$/) }]);
    expect(meta.cache.prefix.total).toBe(done.usage.promptTokens);
    expect(done.usage.completionTokens).toBe(12);
    expect(done.timings.totalMs).toBeGreaterThanOrEqual(done.timings.ttftMs);
    expect(text.length).toBeGreaterThan(0);

    // The same question in a fresh session with every cache off: the token texts make up the same answer.
    const uncached = await chat({
      message: { text: "What is in this picture?", imageIds: [imageId] },
      params: { maxNewTokens: 12 },
      cache: CACHES_OFF,
    });
    expect(uncached.meta.cache).toMatchObject({
      features: [{ imageId, source: "computed" }],
      prefix: { reused: 0 },
      response: "bypass",
    });
    expect(uncached.text).toBe(text);
  });

  it("answers a follow-up from the session, reusing the first turn's KV, exactly as without caches", async () => {
    const first = await chat({
      message: { text: "Describe the image.", imageIds: [imageId] },
      params: { maxNewTokens: 10 },
    });
    const sessionId = first.meta.sessionId;
    const followUp = await chat({ sessionId, message: { text: "And the colours?" }, params: { maxNewTokens: 10 } });
    expect(followUp.meta.sessionId).toBe(sessionId);
    expect(followUp.meta.cache.prefix.reused).toBeGreaterThan(0);
    // The follow-up's prompt holds the first turn: question, image tokens and answer.
    expect(followUp.done.usage.promptTokens).toBeGreaterThan(first.done.usage.promptTokens + 10);

    const plainFirst = await chat({
      message: { text: "Describe the image.", imageIds: [imageId] },
      params: { maxNewTokens: 10 },
      cache: CACHES_OFF,
    });
    const plainFollowUp = await chat({
      sessionId: plainFirst.meta.sessionId,
      message: { text: "And the colours?" },
      params: { maxNewTokens: 10 },
      cache: CACHES_OFF,
    });
    expect(plainFollowUp.meta.cache.prefix.reused).toBe(0);
    expect([plainFirst.text, plainFollowUp.text]).toEqual([first.text, followUp.text]);
    expect(plainFollowUp.done.usage.promptTokens).toBe(followUp.done.usage.promptTokens);
  });

  it("answers an identical request from the response cache with the same text", async () => {
    const question = { message: { text: "Is there a border?", imageIds: [imageId] }, params: { maxNewTokens: 8 } };
    const first = await chat(question);
    const again = await chat(question);
    expect(first.meta.cache.response).toBe("miss");
    expect(again.meta.cache.response).toBe("hit");
    expect(again.text).toBe(first.text);
    expect(again.done.usage).toEqual(first.done.usage);
    expect(again.meta.sessionId).not.toBe(first.meta.sessionId);
  });

  it("regenerates the last answer in place: the history then holds it once", async () => {
    const params = { maxNewTokens: 6 };
    const first = await chat({ message: { text: "One?", imageIds: [imageId] }, params });
    const sessionId = first.meta.sessionId;
    const second = await chat({ sessionId, message: { text: "Two?" }, params });
    const regenerated = await chat({ sessionId, message: { text: "Two?" }, params, regenerate: true });
    // Greedy decoding over the same history: the same answer, now straight from the response cache.
    expect(regenerated.text).toBe(second.text);
    expect(regenerated.meta.cache.response).toBe("hit");
    expect(regenerated.done.usage.promptTokens).toBe(second.done.usage.promptTokens);
    const third = await chat({ sessionId, message: { text: "Three?" }, params });

    // The same three questions without regenerating, caches off: the same prompt and answer for the third.
    const a = await chat({ message: { text: "One?", imageIds: [imageId] }, params, cache: CACHES_OFF });
    await chat({ sessionId: a.meta.sessionId, message: { text: "Two?" }, params, cache: CACHES_OFF });
    const c = await chat({ sessionId: a.meta.sessionId, message: { text: "Three?" }, params, cache: CACHES_OFF });
    expect(c.done.usage.promptTokens).toBe(third.done.usage.promptTokens);
    expect(c.text).toBe(third.text);
  });

  it("edits an earlier question (keepTurns): the same tokens as a fresh session with the same earlier turns, caches off", async () => {
    const params = { maxNewTokens: 6 };
    const first = await chat({ message: { text: "First?", imageIds: [imageId] }, params });
    const sessionId = first.meta.sessionId;
    const second = await chat({ sessionId, message: { text: "Second?" }, params });
    const third = await chat({ sessionId, message: { text: "Third?" }, params });
    expect([first, second, third].map((turn) => turn.meta.turn)).toEqual([0, 1, 2]);

    // Edit the second of three questions: the first turn stays, the second and third are replaced.
    const edited = await chat({ sessionId, message: { text: "Second, reworded?" }, params, keepTurns: 1 });
    expect(edited.meta).toMatchObject({ sessionId, turn: 1 });
    // The first turn's prompt (question, image tokens, answer) comes from the prefix cache.
    expect(edited.meta.cache.prefix.reused).toBeGreaterThan(first.done.usage.promptTokens);
    const followUp = await chat({ sessionId, message: { text: "Fourth?" }, params });
    expect(followUp.meta.turn).toBe(2);

    // The same conversation asked afresh, with every cache off.
    const [, plainSecond, plainFourth] = await askAfresh(
      [{ text: "First?", imageIds: [imageId] }, { text: "Second, reworded?" }, { text: "Fourth?" }],
      params,
    );
    expect(plainSecond.meta.cache.prefix.reused).toBe(0);
    expect([edited.text, followUp.text]).toEqual([plainSecond.text, plainFourth.text]);
    expect([edited.done.usage, followUp.done.usage]).toEqual([plainSecond.done.usage, plainFourth.done.usage]);

    // keepTurns 0 replaces the whole conversation: the first question asked anew, as in a new session.
    const restarted = await chat({ sessionId, message: { text: "Only this?" }, params, keepTurns: 0 });
    const [alone] = await askAfresh([{ text: "Only this?" }], params);
    expect(restarted.meta.turn).toBe(0);
    expect([restarted.text, restarted.done.usage]).toEqual([alone.text, alone.done.usage]);
  });

  it("refuses a keepTurns beyond the session's turns with 400, changing nothing", async () => {
    const params = { maxNewTokens: 5 };
    const first = await chat({ message: { text: "One?" }, params });
    const sessionId = first.meta.sessionId;
    await chat({ sessionId, message: { text: "Two?" }, params });
    for (const keepTurns of [3, 1000]) {
      const refused = await postChat(app.baseUrl, { sessionId, message: { text: "Three?" }, params, keepTurns });
      expect(refused).toMatchObject({
        status: 400,
        error: { code: "turn_out_of_range", message: expect.stringContaining("between 0 and 2") },
      });
    }
    // keepTurns equal to the number of turns keeps them all: the session still holds both turns.
    const third = await chat({ sessionId, message: { text: "Three?" }, params, keepTurns: 2 });
    const [, , plainThird] = await askAfresh([{ text: "One?" }, { text: "Two?" }, { text: "Three?" }], params);
    expect(third.meta.turn).toBe(2);
    expect([third.text, third.done.usage]).toEqual([plainThird.text, plainThird.done.usage]);
  });

  it("runs an edit after the session's turn in progress has been saved (the turn lock)", async () => {
    const params = { maxNewTokens: 5 };
    const first = await chat({ message: { text: "Before the long one?" }, params });
    const sessionId = first.meta.sessionId;
    const controller = new AbortController();
    const long = await fetch(`${app.baseUrl}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ sessionId, message: { text: "A long story, please." }, params: { maxNewTokens: 4000 } }),
      signal: controller.signal,
    });
    const reader = long.body!.getReader();
    let received = "";
    while (!/event: token/.test(received)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`the stream ended before its first token: ${received}`);
      received += new TextDecoder().decode(chunk.value);
    }
    // The edit replaces the long turn; it waits for that turn's save, so the save cannot undo the edit afterwards.
    const editing = chat({ sessionId, message: { text: "A short one instead?" }, params, keepTurns: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort();
    const edited = await editing;
    const followUp = await chat({ sessionId, message: { text: "And then?" }, params });

    const [, plainEdited, plainFollowUp] = await askAfresh(
      [{ text: "Before the long one?" }, { text: "A short one instead?" }, { text: "And then?" }],
      params,
    );
    expect([edited.meta.turn, followUp.meta.turn]).toEqual([1, 2]);
    expect([edited.text, followUp.text]).toEqual([plainEdited.text, plainFollowUp.text]);
    expect(followUp.done.usage).toEqual(plainFollowUp.done.usage);
  });

  it("stops generating when the client leaves, keeps the streamed part in the session, and frees it", async () => {
    const controller = new AbortController();
    const response = await fetch(`${app.baseUrl}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ message: { text: "Tell me a long story." }, params: { maxNewTokens: 4000 } }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let received = "";
    while (!/event: token/.test(received)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`the stream ended before its first token: ${received}`);
      received += new TextDecoder().decode(chunk.value);
    }
    const sessionId = /"sessionId":"([^"]+)"/.exec(received)![1] as SessionId;
    controller.abort();

    const followUp = await chat({ sessionId, message: { text: "Go on." }, params: { maxNewTokens: 2 } });
    // Had the first answer run to its 4000 tokens, the follow-up's prompt would hold them all.
    expect(followUp.done.usage.promptTokens).toBeLessThan(1000);
    expect(followUp.done.usage.promptTokens).toBeGreaterThan(10);
  });
});

describe("DELETE /api/sessions/:id", () => {
  it("forgets a session: 204, then 404, and a follow-up on it is refused", async () => {
    const { meta } = await chat({ message: { text: "Hello" }, params: { maxNewTokens: 2 } });
    const remove = () => fetch(`${app.baseUrl}/api/sessions/${meta.sessionId}`, { method: "DELETE" });
    expect((await remove()).status).toBe(204);
    const again = await remove();
    expect(again.status).toBe(404);
    expect((await again.json()).error.code).toBe("session_not_found");
    const followUp = await postChat(app.baseUrl, { sessionId: meta.sessionId, message: { text: "Still there?" } });
    expect(followUp).toMatchObject({ status: 404, error: { code: "session_not_found" } });
    const malformed = await fetch(`${app.baseUrl}/api/sessions/not-a-session`, { method: "DELETE" });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error.code).toBe("invalid_session_id");
  });
});

describe("refusals", () => {
  it("answers bad bodies with 400 and {error: {code, message}}, changing nothing", async () => {
    const cases: [unknown, string, RegExp][] = [
      ["{not json", "invalid_json", /not valid JSON/],
      [{ message: { text: "hi" }, stream: true }, "invalid_request", /stream/],
      [{ message: { text: "  " } }, "invalid_request", /^message: a message needs text or at least one image$/],
      [{ message: { text: "hi", imageIds: ["nope"] } }, "invalid_request", /^message\.imageIds\.0: /],
      [{ message: { text: "hi" }, params: { temperature: -1 } }, "invalid_request", /^params\.temperature: /],
      [{ message: { text: "hi" }, regenerate: true }, "invalid_request", /^regenerate: /],
    ];
    for (const [body, code, message] of cases) {
      const outcome = await postChat(app.baseUrl, body);
      expect(outcome.status, JSON.stringify(body)).toBe(400);
      expect(outcome).toMatchObject({ error: { code, message: expect.stringMatching(message) } });
    }
    const empty = await fetch(`${app.baseUrl}/api/chat`, { method: "POST" });
    expect([empty.status, (await empty.json()).error.code]).toEqual([400, "empty_body"]);
  });

  it("answers an unknown image or session with 404", async () => {
    expect(await postChat(app.baseUrl, { message: { text: "hi", imageIds: ["e".repeat(64)] } })).toMatchObject({
      status: 404,
      error: { code: "image_not_found" },
    });
    expect(
      await postChat(app.baseUrl, { sessionId: "0f8fad5b-d9cb-469f-a165-70867728950e", message: { text: "hi" } }),
    ).toMatchObject({
      status: 404,
      error: { code: "session_not_found" },
    });
  });

  it("answers text over MAX_PROMPT_CHARS (default 32768) with 413", async () => {
    const long = await postChat(app.baseUrl, { message: { text: "x".repeat(32_769) } });
    expect(long).toMatchObject({
      status: 413,
      error: { code: "prompt_too_large", message: expect.stringContaining("32769 characters") },
    });
  });
});
