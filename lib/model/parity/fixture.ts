/**
 * A parity fixture folder (the fixture format of scripts/reference/README.md): `model/` (a Hugging Face checkpoint),
 * `reference.json`, `images/<name>.pixel_values.npy` + `images/preprocess.json`, `vision_image_features.npy`,
 * `vision_deepstack.npy`, `turn1_first_logits.npy`, `tokenizer_ref.json`. Everything but `model/` and
 * `reference.json` is optional here; checks report n/a for what is missing. Extra fields are kept.
 */

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { npyAsFloat32, parseNpy, type NpyArray } from "@/lib/model/npy";
import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";

const turnSchema = z
  .object({
    input_ids: z.array(z.number().int().nonnegative()),
    greedy: z.array(z.number().int().nonnegative()),
    margins: z.array(z.number()),
  })
  .passthrough();

const referenceSchema = z
  .object({
    images_in_order: z.array(z.string()).default([]),
    image_grid_thw: z.array(z.tuple([z.number().int(), z.number().int(), z.number().int()])).default([]),
    image_tokens: z.array(z.number().int()).optional(),
    turn1: turnSchema.optional(),
    turn2: turnSchema.optional(),
    text_only: turnSchema.optional(),
  })
  .passthrough();

export type ReferenceTurn = z.infer<typeof turnSchema>;
export type Reference = z.infer<typeof referenceSchema>;
export const TURN_NAMES = ["turn1", "turn2", "text_only"] as const;
export type TurnName = (typeof TURN_NAMES)[number];

export class FixtureError extends Error {
  readonly code = "bad_fixture";
  constructor(message: string) {
    super(message);
    this.name = "FixtureError";
  }
}

export interface ParityFixture {
  readonly dir: string;
  readonly name: string;
  readonly modelDir: string;
  readonly reference: Reference;
  readonly grids: ImageGrid[];
  /** The array stored at `relativePath`, or null when the fixture has no such file. */
  readNpy(relativePath: string): Promise<NpyArray | null>;
  /**
   * The pixel values of `images_in_order`, concatenated in that order ([Σ patches, C·T·P·P]); null if any is missing.
   */
  pixelValuesInOrder(): Promise<Float32Array | null>;
}

export async function loadFixture(dir: string): Promise<ParityFixture> {
  const referencePath = path.join(dir, "reference.json");
  const modelDir = path.join(dir, "model");
  if (!existsSync(referencePath)) throw new FixtureError(`${dir} is not a parity fixture: reference.json is missing`);
  if (!existsSync(modelDir)) throw new FixtureError(`${dir} is not a parity fixture: model/ is missing`);
  const parsed = referenceSchema.safeParse(JSON.parse(await readFile(referencePath, "utf8")));
  if (!parsed.success) {
    throw new FixtureError(
      `${referencePath}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  const reference = parsed.data;
  if (reference.image_grid_thw.length !== reference.images_in_order.length) {
    throw new FixtureError(
      `${referencePath}: ${reference.images_in_order.length} images_in_order but ${reference.image_grid_thw.length} image_grid_thw`,
    );
  }
  const readNpy = async (relativePath: string) => {
    const file = path.join(dir, relativePath);
    return existsSync(file) ? parseNpy(await readFile(file)) : null;
  };
  return {
    dir,
    name: path.basename(path.resolve(dir)),
    modelDir,
    reference,
    grids: reference.image_grid_thw.map(([t, h, w]) => ({ t, h, w })),
    readNpy,
    pixelValuesInOrder: async () => {
      const parts: Float32Array[] = [];
      for (const image of reference.images_in_order) {
        const array = await readNpy(path.join("images", `${image}.pixel_values.npy`));
        if (array === null) return null;
        parts.push(npyAsFloat32(array));
      }
      return concatFloat32(parts);
    },
  };
}

/** Per-image arrays joined in order, the layout the fixture's stacked arrays (and the vision encoder's input) use. */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
