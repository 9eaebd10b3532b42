import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { convertCheckpoint, type BundleDtype } from "@/lib/model/convert/convert";
import type { ImageGrid } from "@/lib/model/positions/mrope";

/**
 * Helpers for the engine integration tests: the PyTorch parity fixtures (fixtures/parity/<name>, ▶ fixture format)
 * and bundles converted from their checkpoints. A bundle is rebuilt only when the converter or graph sources or the
 * fixture's model change (the folder name carries a hash of them), so repeated runs reuse it.
 */

export const REPO = path.resolve(__dirname, "../..");
export const FIXTURES = path.join(REPO, "fixtures/parity");

export interface Turn {
  input_ids: number[];
  greedy: number[];
  margins: number[];
  position_ids: number[][][];
  rope_delta: number;
}

export interface Reference {
  images_in_order: string[];
  image_grid_thw: [number, number, number][];
  image_tokens: number[];
  turn1: Turn;
  turn2: Turn;
  text_only: Turn;
}

export interface NpyArray {
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** Reads a little-endian C-order .npy of float32 or int64 (what the fixture generator writes). */
export function readNpy(file: string): NpyArray {
  const bytes = readFileSync(file);
  if (bytes.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${file} is not an .npy file`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.toString("latin1", headerStart, headerStart + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "";
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (fortran !== "False") throw new Error(`${file}: Fortran-order arrays are not supported`);
  const body = bytes.subarray(headerStart + headerLength);
  const copy = new Uint8Array(body).buffer; // aligned copy
  if (descr === "<f4") return { shape, data: new Float32Array(copy) };
  if (descr === "<i8") return { shape, data: new BigInt64Array(copy) };
  throw new Error(`${file}: dtype ${descr} is not supported`);
}

export function readFloatNpy(file: string): Float32Array {
  const array = readNpy(file);
  if (!(array.data instanceof Float32Array)) throw new Error(`${file} is not float32`);
  return array.data;
}

export function fixtureDir(name: string): string {
  return path.join(FIXTURES, name);
}

export function readReference(name: string): Reference {
  return JSON.parse(readFileSync(path.join(fixtureDir(name), "reference.json"), "utf8")) as Reference;
}

export function fixtureGrids(reference: Reference): ImageGrid[] {
  return reference.image_grid_thw.map(([t, h, w]) => ({ t, h, w }));
}

/** Pixel values of the fixture's images in `images_in_order`, concatenated: [Σ patches, C·T·P·P]. */
export function fixturePixelValues(name: string, reference: Reference): Float32Array {
  const parts = reference.images_in_order.map((image) => readFloatNpy(path.join(fixtureDir(name), "images", `${image}.pixel_values.npy`)));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function hashSources(modelDir: string): string {
  const hash = createHash("sha256");
  const sourceDirs = ["lib/model/graphs", "lib/model/onnx", "lib/model/convert", "lib/model/checkpoint"];
  for (const dir of sourceDirs) {
    for (const file of readdirSync(path.join(REPO, dir)).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts")).sort()) {
      hash.update(file);
      hash.update(readFileSync(path.join(REPO, dir, file)));
    }
  }
  for (const file of readdirSync(modelDir).sort()) {
    hash.update(file);
    hash.update(readFileSync(path.join(modelDir, file)));
  }
  return hash.digest("hex").slice(0, 16);
}

/** The bundle converted from fixture `name`'s checkpoint, built on first use into .cache/test-bundles. */
export async function fixtureBundle(name: string, dtype: BundleDtype = "fp32"): Promise<string> {
  const modelDir = path.join(fixtureDir(name), "model");
  const root = path.join(REPO, ".cache/test-bundles");
  const prefix = `${name}-${dtype}-`;
  const out = path.join(root, `${prefix}${hashSources(modelDir)}`);
  if (!existsSync(path.join(out, "vlcache.json"))) {
    await convertCheckpoint(modelDir, out, { dtype, force: true });
    // Bundles of older sources are stale now.
    for (const entry of readdirSync(root)) {
      if (entry.startsWith(prefix) && path.join(root, entry) !== out && !entry.includes(".partial-")) {
        await rm(path.join(root, entry), { recursive: true, force: true });
      }
    }
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
