/**
 * A bundle's preprocessor_config.json as `Qwen2VLImageProcessor` reads it (Qwen3-VL uses the same processor with patch
 * 16). The pixel bounds come in two spellings: `size: {shortest_edge, longest_edge}` — which, despite the names, are
 * pixel COUNTS — and the older top-level `min_pixels` / `max_pixels`, which win when both are present (transformers'
 * backward-compatibility rule). Omitted fields take the processor's constructor defaults.
 */

import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { ImagePreprocessError } from "@/lib/images/preprocess/errors";

export interface PreprocessorConfig {
  doResize: boolean;
  minPixels: number;
  maxPixels: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
}

/** PIL's BICUBIC; the only resampling filter Qwen-VL processors use, and the one `resizeImage` approximates. */
const PIL_BICUBIC = 3;
const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

const positiveInt = z.number().int().positive();
const channelTriple = z.union([z.number(), z.array(z.number()).length(3)]);

const rawConfigSchema = z.object({
  do_resize: z.boolean().default(true),
  size: z.object({ shortest_edge: positiveInt, longest_edge: positiveInt }).nullish(),
  min_pixels: positiveInt.nullish(),
  max_pixels: positiveInt.nullish(),
  resample: z.number().int().default(PIL_BICUBIC),
  do_rescale: z.boolean().default(true),
  rescale_factor: z
    .number()
    .positive()
    .default(1 / 255),
  do_normalize: z.boolean().default(true),
  image_mean: channelTriple.nullish(),
  image_std: channelTriple.nullish(),
  patch_size: positiveInt.default(14),
  temporal_patch_size: positiveInt.default(2),
  merge_size: positiveInt.default(2),
});

function triple(value: number | number[] | null | undefined, fallback: number[]): [number, number, number] {
  const v = value ?? fallback;
  return typeof v === "number" ? [v, v, v] : [v[0], v[1], v[2]];
}

export function parsePreprocessorConfig(json: unknown): PreprocessorConfig {
  const parsed = rawConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ImagePreprocessError(
      "invalid_preprocessor_config",
      `preprocessor_config.json: ${issue.path.join(".")}: ${issue.message}`,
    );
  }
  const raw = parsed.data;
  if (raw.resample !== PIL_BICUBIC) {
    throw new ImagePreprocessError(
      "invalid_preprocessor_config",
      `preprocessor_config.json: resample ${raw.resample} is not supported (only bicubic, 3)`,
    );
  }
  const minPixels = raw.min_pixels ?? raw.size?.shortest_edge ?? 56 * 56;
  const maxPixels = raw.max_pixels ?? raw.size?.longest_edge ?? 28 * 28 * 1280;
  if (minPixels > maxPixels) {
    throw new ImagePreprocessError(
      "invalid_preprocessor_config",
      `preprocessor_config.json: min pixels ${minPixels} exceed max pixels ${maxPixels}`,
    );
  }
  const imageStd = triple(raw.image_std, OPENAI_CLIP_STD);
  if (imageStd.some((s) => s === 0)) {
    throw new ImagePreprocessError("invalid_preprocessor_config", "preprocessor_config.json: image_std has a zero");
  }
  return {
    doResize: raw.do_resize,
    minPixels,
    maxPixels,
    doRescale: raw.do_rescale,
    rescaleFactor: raw.rescale_factor,
    doNormalize: raw.do_normalize,
    imageMean: triple(raw.image_mean, OPENAI_CLIP_MEAN),
    imageStd,
    patchSize: raw.patch_size,
    temporalPatchSize: raw.temporal_patch_size,
    mergeSize: raw.merge_size,
  };
}

/** Reads `<dir>/preprocessor_config.json`. */
export async function loadPreprocessorConfig(dir: string): Promise<PreprocessorConfig> {
  const file = path.join(dir, "preprocessor_config.json");
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new ImagePreprocessError("invalid_preprocessor_config", `cannot read ${file}: ${(error as Error).message}`);
  }
  return parsePreprocessorConfig(json);
}
