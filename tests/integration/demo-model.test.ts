import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageId, SessionId } from "@/lib/ids";
import { ensureDemoBundle } from "@/lib/demoModel/bundle";
import { DEMO_EXAMPLES, demoExampleItem } from "@/lib/demoModel/examples";
import { DEMO_MODEL_NAME } from "@/lib/demoModel/identity";
import { scoreAnswer } from "@/lib/demoModel/score";
import { renderTestImage } from "@/lib/demoModel/testImages";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
import { answerOf, buildOnce, postChat, startApiApp, uploadImage, type ApiApp } from "./apiApp";

/**
 * The model `npm run demo` serves by default: the committed demo checkpoint, converted by the project's converter
 * (lib/demoModel/bundle.ts), served by the real app (next start, real redis-server, onnxruntime-node on the CPU). It
 * must answer the Examples row's questions right, and give the same answers with every cache off (npm run eval:demo
 * measures the whole held-out test set, follow-ups with L2 hits included).
 */
let redis: TestRedis;
let app: ApiApp;
const CACHES_OFF = { l1: false, l2: false, l3: false };

beforeAll(async () => {
  const bundle = await ensureDemoBundle(path.join(process.cwd(), ".cache"));
  await buildOnce();
  redis = await startTestRedis();
  app = await startApiApp("demo-model", { REDIS_URL: redis.url, MODEL_DIR: bundle.dir });
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await redis?.teardown();
});

async function converse(imageId: ImageId, questions: readonly string[], cache?: typeof CACHES_OFF) {
  let sessionId: SessionId | undefined;
  const replies = [];
  for (const [turn, text] of questions.entries()) {
    const message = turn === 0 ? { text, imageIds: [imageId] } : { text };
    const reply = answerOf(
      await postChat(app.baseUrl, { sessionId, message, params: { maxNewTokens: 48, temperature: 0 }, cache }),
    );
    sessionId = reply.meta.sessionId;
    replies.push(reply);
  }
  return replies;
}

describe("the demo model", () => {
  it("is served under its name, as a trained (not random) model", () => {
    expect(app.health.model).toEqual({ name: DEMO_MODEL_NAME, isRandomTestModel: false, executionProvider: "cpu" });
  });

  it.each(DEMO_EXAMPLES.map((e) => [e.title, e] as const))(
    "answers the example %s right, the same with caches off",
    async (_, example) => {
      const item = demoExampleItem(example);
      const { imageId } = await uploadImage(app.baseUrl, await renderTestImage(item));
      const questions = item.turns.map((t) => t.question);
      const cached = await converse(imageId, questions);
      const uncached = await converse(imageId, questions, CACHES_OFF);
      item.turns.forEach((turn, i) => {
        expect({
          question: turn.question,
          answer: cached[i].text,
          ...scoreAnswer(turn.answer, cached[i].text),
        }).toMatchObject({
          question: turn.question,
          correct: true,
        });
        expect(uncached[i].text).toBe(cached[i].text);
      });
    },
  );
});
