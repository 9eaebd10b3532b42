import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { buildApp, startApp } from "./appServer";
import { startTestRedis } from "@/tests/support/redisServer";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

export const ARTIFACTS_DIR = path.join(process.cwd(), "test-results", "e2e");

/**
 * Once per e2e run: `next build` (skipped with E2E_SKIP_BUILD=1 when .next is known fresh), a private redis-server,
 * and `next start` on a free port pointed at it. Tests receive the base URL with `inject("baseUrl")`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  if (process.env.E2E_SKIP_BUILD !== "1") {
    const started = Date.now();
    console.log("e2e: next build … (log: test-results/e2e/build.log)");
    await buildApp(path.join(ARTIFACTS_DIR, "build.log"));
    console.log(`e2e: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const redis = await startTestRedis();
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), "vlcache-e2e-cache-"));
  const app = await startApp(
    { REDIS_URL: redis.url, CACHE_DIR: cacheDir, LOG_LEVEL: "info" },
    path.join(ARTIFACTS_DIR, "server.log"),
  );
  console.log(`e2e: app on ${app.baseUrl}, redis on ${redis.url}`);
  project.provide("baseUrl", app.baseUrl);

  return async () => {
    await app.stop();
    await redis.teardown();
    await rm(cacheDir, { recursive: true, force: true });
  };
}
