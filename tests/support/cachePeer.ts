/**
 * A second app process for cross-process cache tests: it loads the same bundle with the same library code as the app
 * (model, caches, pipeline), connects to the given Redis, asks one question about a stored image and prints one JSON
 * line with what its caches reported and how often its vision encoder ran.
 *
 *   npx tsx tests/support/cachePeer.ts <redisUrl> <bundleDir> <imageId> <question> <maxNewTokens>
 *   → {"features":[{"imageId":"…","source":"l1"}],"prefixReused":0,"response":"miss","encoderRuns":0,"tokenIds":[…]}
 */
import { loadConfig } from "@/lib/config";
import { RedisBlobStore, createRedisClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import { parseImageId } from "@/lib/ids";
import type { GenerationEvent } from "@/lib/inference/events";
import { storedImages } from "@/lib/inference/imageSource";
import { loadInferenceModel } from "@/lib/inference/inferenceModel";
import { createModelCaches } from "@/lib/inference/modelCaches";
import { InferencePipeline } from "@/lib/inference/pipeline";
import { createLogger } from "@/lib/log";
import { visionEncoderRuns } from "@/lib/metrics/cacheMetrics";

async function main(): Promise<void> {
  const [redisUrl, bundleDir, imageIdText, question, maxNewTokensText] = process.argv.slice(2);
  const imageId = parseImageId(imageIdText ?? "");
  if (!redisUrl || !bundleDir || !imageId || !question || !maxNewTokensText) {
    throw new Error("usage: cachePeer.ts <redisUrl> <bundleDir> <imageId> <question> <maxNewTokens>");
  }
  const logger = createLogger("silent");
  const client = createRedisClient(redisUrl);
  if (!(await waitUntilReady(client, 5_000))) throw new Error(`no connection to ${redisUrl}`);
  const store = new RedisBlobStore(client, logger);
  const model = await loadInferenceModel(bundleDir, { executionProvider: "cpu" });
  const caches = createModelCaches(model, store, loadConfig({}).caches, logger);
  const pipeline = new InferencePipeline({
    model,
    images: storedImages(store),
    maxImagePixels: 40_000_000,
    seams: caches.seams,
  });

  const events: GenerationEvent[] = [];
  const messages = [
    {
      role: "user" as const,
      content: [
        { type: "image" as const, imageId },
        { type: "text" as const, text: question },
      ],
    },
  ];
  for await (const event of pipeline.generate({ messages, maxNewTokens: Number(maxNewTokensText) })) events.push(event);
  const meta = events.find((event) => event.type === "meta");
  const done = events.find((event) => event.type === "done");
  if (meta?.type !== "meta" || done?.type !== "done") throw new Error("the answer has no meta or no done event");
  const encoderRuns = (await visionEncoderRuns.get()).values.reduce((sum, value) => sum + value.value, 0);
  process.stdout.write(
    `${JSON.stringify({
      features: meta.cache.features,
      prefixReused: meta.cache.prefix.reused,
      response: meta.cache.response,
      encoderRuns,
      tokenIds: done.tokenIds,
    })}\n`,
  );
  await model.release();
  await store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
