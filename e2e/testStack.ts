import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { HealthResponse } from "@/lib/api/types";
import { startTestRedis } from "@/tests/support/redisServer";
import { startApp, type RunningApp } from "./appServer";
import { ensureTestModel } from "./testModel";

export interface TestStack {
  readonly baseUrl: string;
  readonly redisUrl: string;
  stop(): Promise<void>;
}

/** How long loading the model may take after the server answers /api/health (ORT sessions of the tiny bundle). */
const MODEL_LOAD_TIMEOUT_MS = 120_000;

/**
 * The built app serving the test model (testModel.ts), or the bundle in `modelDir`, with a private redis-server, started and ready to answer
 * questions: `next start` answers /api/health while the model still loads, so this also waits for the model.
 * Used by the e2e global setup and by the README screenshot script. Requires a fresh `next build`.
 */
export async function startTestStack(logFile: string, modelDir?: string): Promise<TestStack> {
  modelDir ??= await ensureTestModel();
  const redis = await startTestRedis();
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-e2e-cache-"));
  let app: RunningApp | undefined;
  const stopAll = async () => {
    await app?.stop();
    await redis.teardown();
    await rm(cacheDir, { recursive: true, force: true });
  };
  try {
    app = await startApp(
      { REDIS_URL: redis.url, CACHE_DIR: cacheDir, MODEL_DIR: modelDir, LOG_LEVEL: "info" },
      logFile,
    );
    await waitForModel(app.baseUrl, logFile);
    return { baseUrl: app.baseUrl, redisUrl: redis.url, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function waitForModel(baseUrl: string, logFile: string): Promise<void> {
  const deadline = Date.now() + MODEL_LOAD_TIMEOUT_MS;
  for (;;) {
    // A failed poll is retried: while a large bundle loads, the server can stall past its keep-alive timeout and a
    // poll on the connection it is closing fails with ECONNRESET.
    const health = (await fetch(`${baseUrl}/api/health`).then(
      (r) => r.json(),
      () => null,
    )) as HealthResponse | null;
    if (health?.model) return;
    if (health?.modelError !== undefined) {
      throw new Error(
        `the app could not load the test model (${health.modelError.code}): ${health.modelError.message}; see ${logFile}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`the app reported no loaded model within ${MODEL_LOAD_TIMEOUT_MS / 1000} s; see ${logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
