import { ensureDemoBundle } from "@/lib/demoModel/bundle";
import { scoreAnswer } from "@/lib/demoModel/score";
import { renderTestImage } from "@/lib/demoModel/testImages";
import { buildTestItem, type DemoFamily } from "@/lib/demoModel/testSet";
import { answerOf, buildOnce, postChat, startApiApp, uploadImage } from "@/tests/integration/apiApp";
import { startTestRedis } from "@/tests/support/redisServer";
const bundle = await ensureDemoBundle(".cache");
await buildOnce();
const redis = await startTestRedis();
const app = await startApiApp("search", { REDIS_URL: redis.url, MODEL_DIR: bundle.dir, RATE_LIMIT_PER_MINUTE: "0" });
const plan: [DemoFamily, number][] = [["shapes", 40], ["charts", 60], ["text", 80], ["gui", 120], ["follow-up", 60]];
try {
  for (const [family, n] of plan) {
    for (let k = 1; k <= n; k++) {
      const seed = 777000 + k * 31;
      const item = buildTestItem(family, seed, "x");
      const png = await renderTestImage({ ...item, encoding: { format: "png" } });
      const { imageId } = await uploadImage(app.baseUrl, png);
      let sessionId; const res = [];
      for (const [t, turn] of item.turns.entries()) {
        const r = answerOf(await postChat(app.baseUrl, { sessionId, message: t === 0 ? { text: turn.question, imageIds: [imageId] } : { text: turn.question }, params: { maxNewTokens: 48, temperature: 0 } }));
        sessionId = r.meta.sessionId; res.push({ q: turn.question, want: turn.answer, got: r.text, ...scoreAnswer(turn.answer, r.text) });
      }
      if (res.every((r) => r.correct)) console.log(JSON.stringify({ family, seed, w: item.width, h: item.height, res }));
    }
  }
} finally { await app.stop(); await redis.teardown(); }
