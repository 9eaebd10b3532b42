/**
 * Parity bundles are converted once and reused: `.cache/parity/<fixture>-<weights>-<code>` where <weights> is the
 * source fingerprint and <code> a hash of the converter and graph sources (lib/model/{config.ts, onnx, graphs,
 * convert, checkpoint}). Editing a graph builder therefore yields a fresh bundle instead of silently testing a stale
 * one; the fixture's older bundles are deleted then, so the cache holds one bundle per fixture.
 */

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import { convertCheckpoint, fingerprintWeights } from "@/lib/model/convert/convert";

const MODEL_LIB = fileURLToPath(new URL("..", import.meta.url));
const REPO_ROOT = path.resolve(MODEL_LIB, "..", "..");
export const PARITY_CACHE_DIR = path.join(REPO_ROOT, ".cache", "parity");
const CODE_DIRS = ["onnx", "graphs", "convert", "checkpoint"];

export async function converterCodeFingerprint(): Promise<string> {
  const hash = createHash("sha256");
  const files = [path.join(MODEL_LIB, "config.ts")];
  for (const dir of CODE_DIRS) {
    const full = path.join(MODEL_LIB, dir);
    if (!existsSync(full)) continue;
    const entries = await readdir(full, { recursive: true });
    for (const entry of entries)
      if (entry.endsWith(".ts") && !entry.endsWith(".test.ts")) files.push(path.join(full, entry));
  }
  for (const file of files.sort()) hash.update(`${path.relative(MODEL_LIB, file)}\u0000`).update(await readFile(file));
  return hash.digest("hex");
}

export interface ParityBundle {
  readonly dir: string;
  readonly reused: boolean;
}

export async function ensureParityBundle(
  fixtureName: string,
  modelDir: string,
  opts: { progress?: boolean } = {},
): Promise<ParityBundle> {
  const checkpoint = await SafetensorsCheckpoint.open(modelDir);
  let weights: string;
  try {
    weights = await fingerprintWeights(checkpoint, false);
  } finally {
    await checkpoint.close();
  }
  const code = await converterCodeFingerprint();
  const dir = path.join(PARITY_CACHE_DIR, `${fixtureName}-${weights.slice(0, 12)}-${code.slice(0, 8)}`);
  if (existsSync(path.join(dir, "vlcache.json"))) return { dir, reused: true };
  // Test files in other processes may want the same bundle at the same time: each builds privately and the first
  // rename wins (renaming onto an existing, non-empty folder fails), so a bundle someone has opened is never replaced.
  const build = `${dir}.build-${process.pid}`;
  await convertCheckpoint(modelDir, build, { dtype: "fp32", force: true, progress: opts.progress });
  try {
    await rename(build, dir);
  } catch (error) {
    await rm(build, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    return { dir, reused: true };
  }
  await pruneOlderBundles(fixtureName, path.basename(dir));
  return { dir, reused: false };
}

async function pruneOlderBundles(fixtureName: string, keep: string): Promise<void> {
  const escaped = fixtureName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const sameFixture = new RegExp(`^${escaped}-[0-9a-f]{12}-[0-9a-f]{8}$`);
  for (const entry of await readdir(PARITY_CACHE_DIR)) {
    if (entry !== keep && sameFixture.test(entry))
      await rm(path.join(PARITY_CACHE_DIR, entry), { recursive: true, force: true });
  }
}
