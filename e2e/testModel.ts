import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CONVERTER_VERSION, convertRandom, type BundleManifestFile } from "@/lib/model/convert/convert";
import { DEFAULT_BUNDLE, defaultBundleDir } from "@/lib/server/modelRuntime";

/**
 * The model the e2e app serves: the app's own default bundle (seeded random-weight `tiny`), in the folder the app
 * builds it in under the default CACHE_DIR, `.cache/models/tiny-seed0` — so `npm run demo` and the e2e runs share one
 * copy. It is converted once and reused while its vlcache.json names the current converter version; otherwise it is
 * rebuilt in place.
 */
export async function ensureTestModel(): Promise<string> {
  const bundleDir = defaultBundleDir(path.join(process.cwd(), ".cache"));
  const manifestFile = path.join(bundleDir, "vlcache.json");
  if (existsSync(manifestFile)) {
    const manifest = JSON.parse(await readFile(manifestFile, "utf8")) as Partial<BundleManifestFile>;
    if (manifest.converterVersion === CONVERTER_VERSION) return bundleDir;
    console.log(`e2e: ${bundleDir} was built by converter ${manifest.converterVersion}, rebuilding with ${CONVERTER_VERSION}`);
  }
  const started = Date.now();
  console.log(`e2e: converting the ${DEFAULT_BUNDLE.preset} random-weight test model (seed ${DEFAULT_BUNDLE.seed}) into ${bundleDir} …`);
  await convertRandom(DEFAULT_BUNDLE.preset, bundleDir, { dtype: "fp32", seed: DEFAULT_BUNDLE.seed, force: true, progress: true });
  console.log(`e2e: test model built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return bundleDir;
}
