import path from "node:path";
import { createLogger } from "@/lib/log";
import { defaultBundleDir, ensureDefaultBundle } from "@/lib/server/modelRuntime";

/**
 * The model the e2e app serves: the app's own default bundle (seeded random-weight `tiny`), in the folder the app
 * builds it in under the default CACHE_DIR, `.cache/models/tiny-seed0`, so `npm run demo` and the e2e runs share one
 * copy. Converted on first use (progress on stderr) and rebuilt only when another converter version wrote it.
 */
export async function ensureTestModel(): Promise<string> {
  const bundleDir = defaultBundleDir(path.join(process.cwd(), ".cache"));
  const started = Date.now();
  const outcome = await ensureDefaultBundle(bundleDir, createLogger("info"));
  if (outcome === "built")
    console.log(`e2e: test model built in ${((Date.now() - started) / 1000).toFixed(0)} s at ${bundleDir}`);
  return bundleDir;
}
