import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { ensureAppBuilt } from "./appServer";
import { startTestStack } from "./testStack";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

export const ARTIFACTS_DIR = path.join(process.cwd(), "test-results", "e2e");

/**
 * Once per e2e run: `next build` unless .next is newer than every source (or E2E_SKIP_BUILD=1), then the test stack
 * (testStack.ts): the test model (built once, reused across runs), a private redis-server, and `next start` on a free
 * port pointed at both, with the model loaded. Tests receive the base URL with `inject("baseUrl")`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  if (process.env.E2E_SKIP_BUILD !== "1") {
    const started = Date.now();
    console.log("e2e: next build unless .next is fresh … (log: test-results/e2e/build.log)");
    const outcome = await ensureAppBuilt(path.join(ARTIFACTS_DIR, "build.log"));
    console.log(
      outcome === "built"
        ? `e2e: built in ${((Date.now() - started) / 1000).toFixed(0)} s`
        : "e2e: .next is fresh, not rebuilt",
    );
  }
  const stack = await startTestStack(path.join(ARTIFACTS_DIR, "server.log"));
  console.log(`e2e: app on ${stack.baseUrl}, redis on ${stack.redisUrl}`);
  project.provide("baseUrl", stack.baseUrl);
  return () => stack.stop();
}
