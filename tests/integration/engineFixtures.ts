import { readFileSync } from "node:fs";
import path from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import type { BundleDtype } from "@/lib/model/bundleManifest";
import { convertCheckpoint } from "@/lib/model/convert/convert";
import { npyAsFloat32, parseNpy } from "@/lib/model/npy";
import { ensureParityBundle } from "@/lib/model/parity/bundleCache";
import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";

/**
 * Helpers for the engine integration tests over the PyTorch parity fixtures (fixtures/parity/<name>, ▶ fixture
 * format). fp32 bundles come from the parity runner's cache (lib/model/parity/bundleCache.ts): converted on first use,
 * rebuilt when the weights or the converter/graph sources change; other dtypes are converted per test file.
 */

const FIXTURES = path.resolve(__dirname, "../../fixtures/parity");

/** The fields of reference.json these tests read (transformers' positions included). */
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

export function readFloatNpy(file: string): Float32Array {
  return npyAsFloat32(parseNpy(readFileSync(file)));
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
  const parts = reference.images_in_order.map((image) =>
    readFloatNpy(path.join(fixtureDir(name), "images", `${image}.pixel_values.npy`)),
  );
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The fp32 bundle converted from fixture `name`'s checkpoint (the parity runner's cached one). */
export async function fixtureBundle(name: string): Promise<string> {
  return (await ensureParityBundle(name, path.join(fixtureDir(name), "model"))).dir;
}

/** A fresh bundle of fixture `name` in another dtype, in a temporary folder that `remove` deletes. */
export async function temporaryFixtureBundle(
  name: string,
  dtype: BundleDtype,
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), `vlcache-${name}-${dtype}-`));
  const dir = path.join(root, "bundle");
  await convertCheckpoint(path.join(fixtureDir(name), "model"), dir, { dtype });
  return { dir, remove: () => rm(root, { recursive: true, force: true }) };
}

export { maxAbsDiff } from "@/lib/model/parity/compare";
