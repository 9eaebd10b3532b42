import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { parseQwen3VLConfig } from "@/lib/model/config";
import {
  CHAT_TEMPLATE_PATH,
  GENERATION_CONFIG,
  preprocessorConfig,
  writeTokenizerFiles,
} from "@/lib/model/checkpoint/randomCheckpoint";
import { CONVERTER_VERSION, convertCheckpoint } from "@/lib/model/convert/convert";
import { demoTasks, type DemoTasks } from "./tasks";
import { DEMO_MODEL_NAME } from "./identity";

/**
 * The demo model's bundle. The repository holds only what training produced (models/vlcache-demo: config.json and the
 * gzip'd bf16 model.safetensors, see scripts/demo-model/README.md); the first start completes it into a Hub-style
 * checkpoint (the Qwen3 tokenizer files, the chat template, the image-size bounds of tasks.json) in a temporary folder
 * and converts that with the project's converter into `<cacheDir>/models/vlcache-demo-<digest>`. The digest of what the
 * bundle is made from in the repository — the committed weights, config.json and tasks.json's image-size bounds (its
 * preprocessor_config.json) — names the bundle, so a re-trained model or new bounds get a new bundle (and, through the
 * bundle's preprocessor, a new model fingerprint: no cached features or KV of the old bounds are reused) and an
 * unchanged one is reused.
 */

export const DEMO_CHECKPOINT_DIR = path.join(process.cwd(), "models", DEMO_MODEL_NAME);
const WEIGHTS_FILE = "model.safetensors.gz";

export interface DemoBundle {
  dir: string;
  outcome: "reused" | "built";
}

export async function demoBundleDir(cacheDir: string): Promise<string> {
  const [weights, config] = await Promise.all(
    [WEIGHTS_FILE, "config.json"].map((file) => readFile(path.join(DEMO_CHECKPOINT_DIR, file))),
  );
  return path.join(cacheDir, "models", demoBundleName(weights, config, demoTasks().image));
}

/** `vlcache-demo-<digest>`: the digest of each input's own digest, so no two inputs can run into each other. */
export function demoBundleName(weights: Uint8Array, config: Uint8Array, image: DemoTasks["image"]): string {
  const digest = createHash("sha256");
  for (const part of [weights, config, Buffer.from(JSON.stringify([image.minPixels, image.maxPixels]))])
    digest.update(createHash("sha256").update(part).digest());
  return `${DEMO_MODEL_NAME}-${digest.digest("hex").slice(0, 12)}`;
}

export async function ensureDemoBundle(cacheDir: string, opts: { progress?: boolean } = {}): Promise<DemoBundle> {
  const dir = await demoBundleDir(cacheDir);
  const manifest = path.join(dir, "vlcache.json");
  if (
    existsSync(manifest) &&
    (JSON.parse(await readFile(manifest, "utf8")) as { converterVersion?: unknown }).converterVersion ===
      CONVERTER_VERSION
  ) {
    return { dir, outcome: "reused" };
  }
  const checkpoint = await mkdtemp(path.join(os.tmpdir(), `${DEMO_MODEL_NAME}-`));
  try {
    await writeDemoCheckpoint(checkpoint);
    await convertCheckpoint(checkpoint, dir, {
      dtype: "fp32",
      force: true,
      progress: opts.progress ?? false,
      source: { kind: "checkpoint", path: DEMO_CHECKPOINT_DIR },
    });
  } finally {
    await rm(checkpoint, { recursive: true, force: true });
  }
  return { dir, outcome: "built" };
}

/** The committed files plus the side files every Hub checkpoint has, as the converter's `--from` expects them. */
export async function writeDemoCheckpoint(dir: string): Promise<void> {
  const configJson = JSON.parse(await readFile(path.join(DEMO_CHECKPOINT_DIR, "config.json"), "utf8")) as Record<
    string,
    unknown
  >;
  const cfg = parseQwen3VLConfig(configJson);
  await copyFile(path.join(DEMO_CHECKPOINT_DIR, "config.json"), path.join(dir, "config.json"));
  await writeFile(
    path.join(dir, "model.safetensors"),
    await promisify(gunzip)(await readFile(path.join(DEMO_CHECKPOINT_DIR, WEIGHTS_FILE))),
  );
  const { minPixels, maxPixels } = demoTasks().image;
  const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";
  await writeFile(path.join(dir, "generation_config.json"), json(GENERATION_CONFIG));
  await writeFile(
    path.join(dir, "preprocessor_config.json"),
    json(preprocessorConfig(cfg.vision, { shortestEdge: minPixels, longestEdge: maxPixels })),
  );
  await writeTokenizerFiles(dir);
  await copyFile(CHAT_TEMPLATE_PATH, path.join(dir, "chat_template.jinja"));
}
