/**
 * `npm run demo`'s model step (see demo-model.sh): the default test bundle, built once under CACHE_DIR when MODEL_DIR
 * is unset — the same bundle and the same check the app makes at start (lib/server/modelRuntime.ts).
 */
import path from "node:path";
import { loadConfig } from "@/lib/config";
import { createLogger } from "@/lib/log";
import { DEFAULT_BUNDLE, defaultBundleDir, ensureDefaultBundle } from "@/lib/server/modelRuntime";

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.modelDir !== undefined) {
    process.stdout.write(`demo: serving the bundle in MODEL_DIR=${config.modelDir}\n`);
    return;
  }
  const bundleDir = defaultBundleDir(config.cacheDir);
  const relative = path.relative(process.cwd(), bundleDir);
  const shown = relative.startsWith("..") ? bundleDir : relative;
  process.stdout.write(`demo: checking the default test model in ${shown} …\n`);
  const startedAt = Date.now();
  const outcome = await ensureDefaultBundle(bundleDir, createLogger("silent"));
  const how = outcome === "built" ? `built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s` : "already built";
  process.stdout.write(
    `demo: model ${shown} (${DEFAULT_BUNDLE.preset}, seed ${DEFAULT_BUNDLE.seed}) ${how}. It has RANDOM weights: its answers are ` +
      `gibberish by design; set MODEL_DIR to a converted Qwen3-VL bundle for real answers (see README).\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`demo: could not prepare the model: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
