/**
 * `npm run demo`'s model step (see demo-model.sh): the trained demo model (models/vlcache-demo), completed and
 * converted into a bundle under CACHE_DIR on the first run (seconds) and reused afterwards. Messages go to stderr; the
 * bundle folder is printed on stdout for demo.sh to serve as MODEL_DIR.
 */
import path from "node:path";
import { loadConfig } from "@/lib/config";
import { ensureDemoBundle } from "@/lib/demoModel/bundle";
import { DEMO_MODEL_DESCRIPTION } from "@/lib/demoModel/identity";

async function main(): Promise<void> {
  const config = loadConfig();
  const startedAt = Date.now();
  process.stderr.write("demo: checking the demo model bundle …\n");
  const bundle = await ensureDemoBundle(config.cacheDir, { progress: true });
  const relative = path.relative(process.cwd(), bundle.dir);
  const how =
    bundle.outcome === "built" ? `built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s` : "already built";
  process.stderr.write(
    `demo: serving the ${DEMO_MODEL_DESCRIPTION} from ${relative.startsWith("..") ? bundle.dir : relative} (${how}). ` +
      `Set MODEL_DIR to serve a converted Qwen3-VL checkpoint instead (see README).\n`,
  );
  process.stdout.write(`${bundle.dir}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo: could not prepare the demo model: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
