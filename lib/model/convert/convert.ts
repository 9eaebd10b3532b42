/**
 * Checkpoint → bundle. A bundle is a folder (the bundle contract, detailed in models/README.md): the checkpoint's
 * JSON/tokenizer/template files, vlcache.json, and onnx/{embed_tokens,vision_encoder,decoder_model_merged}.onnx built
 * by the graph builders in lib/model/graphs.
 *
 * Steps: validate the source folder (every required file, then every tensor the config implies, with its shape),
 * fingerprint the weights, write each graph with weights streamed from the checkpoint, copy the side files, write
 * vlcache.json. Everything goes to `<out>.partial-<pid>` first and is renamed into place at the end, so a bundle
 * folder is either complete or absent.
 */

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConfigError, parseQwen3VLConfig, type Qwen3VLConfig } from "@/lib/model/config";
import { validateCheckpointTensors } from "@/lib/model/checkpoint/qwen3vlTensors";
import { writeRandomCheckpoint } from "@/lib/model/checkpoint/randomCheckpoint";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import { buildDecoderGraph, DEFAULT_DECODER_OPTIONS } from "@/lib/model/graphs/decoder";
import { buildEmbedTokensGraph } from "@/lib/model/graphs/embedTokens";
import { DEFAULT_ROTARY, type RotaryKind } from "@/lib/model/graphs/rotaryEmbedding";
import { buildVisionEncoderGraph, DEFAULT_VISION_ENCODER_OPTIONS } from "@/lib/model/graphs/visionEncoder";
import { DEFAULT_FLOAT32_COMPUTE, GraphBuilder, type Float32Compute } from "@/lib/model/onnx/graphBuilder";
import { writeModel, type WriteModelResult } from "@/lib/model/onnx/writeModel";
import { createProgress, type Progress } from "@/lib/progress";
import {
  floatTypeOf,
  type BundleDtype,
  type BundleManifest,
  type BundleSource,
  type WrittenBundleManifest,
} from "@/lib/model/bundleManifest";
import { closestPreset, getPreset, PRESET_NAMES, type ImageSizeBounds, type Preset } from "./presets";

/**
 * 1.1.0: float16 bundles compute their matmuls in float32 (Float32Compute); float32 bundles are unchanged.
 * 1.2.0: rotary embeddings are ORT's fused RotaryEmbedding (rotaryEmbedding.ts), which rounds x·cos ± x_j·sin
 * differently from the plain ops by an fp32 ulp at most, so cached KV of 1.1.0 bundles is not bit-identical.
 */
export const CONVERTER_VERSION = "1.2.0";

/** The files a source checkpoint folder must have besides its weights. */
export const REQUIRED_SOURCE_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "preprocessor_config.json",
] as const;

export type ConvertErrorCode = "missing_source" | "missing_file" | "bad_config" | "out_exists";

export class ConvertError extends Error {
  constructor(
    readonly code: ConvertErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ConvertError";
  }
}

export interface ConvertOptions {
  dtype: BundleDtype;
  /** Replace an existing bundle at the destination. */
  force?: boolean;
  /** Show progress on stderr (bar on a TTY, plain lines otherwise). */
  progress?: boolean;
  /** Passed to writeModel; tests lower it to exercise external data. */
  externalDataThresholdBytes?: number;
  /** Recorded in vlcache.json; defaults to the checkpoint path. */
  source?: BundleSource;
  /** Recorded in vlcache.json: the image-size bounds of a random checkpoint and where they came from. */
  imageBounds?: BundleManifest["imageBounds"];
  /**
   * fp16 only: parts computed in float32; default DEFAULT_FLOAT32_COMPUTE (scripts/gpu/precision.ts compares others).
   */
  float32Compute?: Float32Compute;
  /** The rotary embedding's form in the decoder and vision graphs; default fused (plain: for A/B benchmarks). */
  rotary?: RotaryKind;
}

interface GraphPlan {
  readonly file: string;
  readonly name: string;
  readonly build: (g: GraphBuilder, cfg: Qwen3VLConfig, rotary: RotaryKind) => void;
}

const GRAPHS: readonly GraphPlan[] = [
  { file: "onnx/embed_tokens.onnx", name: "embed_tokens", build: buildEmbedTokensGraph },
  {
    file: "onnx/vision_encoder.onnx",
    name: "vision_encoder",
    build: (g, cfg, rotary) => buildVisionEncoderGraph(g, cfg, { ...DEFAULT_VISION_ENCODER_OPTIONS, rotary }),
  },
  {
    file: "onnx/decoder_model_merged.onnx",
    name: "decoder_model_merged",
    build: (g, cfg, rotary) => buildDecoderGraph(g, cfg, { ...DEFAULT_DECODER_OPTIONS, rotary }),
  },
];

/** Throws a ConvertError naming the first thing a checkpoint folder lacks. */
export function validateSourceFolder(dir: string): void {
  if (!existsSync(dir)) throw new ConvertError("missing_source", `checkpoint folder ${dir} does not exist`);
  for (const file of REQUIRED_SOURCE_FILES) {
    if (!existsSync(path.join(dir, file))) {
      throw new ConvertError(
        "missing_file",
        `checkpoint folder ${dir} is missing ${file} (a Hugging Face Qwen3-VL checkpoint needs ${REQUIRED_SOURCE_FILES.join(", ")} and safetensors weights)`,
      );
    }
  }
  if (!existsSync(path.join(dir, "model.safetensors")) && !existsSync(path.join(dir, "model.safetensors.index.json"))) {
    throw new ConvertError(
      "missing_file",
      `checkpoint folder ${dir} is missing model.safetensors (or model.safetensors.index.json for sharded weights)`,
    );
  }
}

export async function readSourceConfig(dir: string): Promise<Qwen3VLConfig> {
  const file = path.join(dir, "config.json");
  try {
    return parseQwen3VLConfig(JSON.parse(await readFile(file, "utf8")));
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SyntaxError)
      throw new ConvertError("bad_config", `${file}: ${error.message}`);
    throw error;
  }
}

export async function convertCheckpoint(
  fromDir: string,
  outDir: string,
  opts: ConvertOptions,
): Promise<WrittenBundleManifest> {
  validateSourceFolder(fromDir);
  const cfg = await readSourceConfig(fromDir);
  await prepareDestination(outDir, opts.force ?? false);

  const checkpoint = await SafetensorsCheckpoint.open(fromDir);
  const staging = `${outDir}.partial-${process.pid}`;
  try {
    validateCheckpointTensors(cfg, checkpoint);
    await rm(staging, { recursive: true, force: true });
    await mkdir(path.join(staging, "onnx"), { recursive: true });

    const sourceFingerprint = await fingerprintWeights(checkpoint, opts.progress ?? false);
    const floatType = floatTypeOf(opts.dtype);
    const float32Compute = opts.float32Compute ?? DEFAULT_FLOAT32_COMPUTE;
    const rotary = opts.rotary ?? DEFAULT_ROTARY;
    const graphs: WrittenBundleManifest["graphs"] = {};
    for (const plan of GRAPHS) {
      const g = new GraphBuilder({ name: plan.name, floatType, float32Compute });
      plan.build(g, cfg, rotary);
      const progress = startProgress(opts.progress, plan.file);
      let result: WriteModelResult;
      try {
        result = await writeModel(g, path.join(staging, plan.file), checkpoint, {
          externalDataThresholdBytes: opts.externalDataThresholdBytes,
          onProgress: (done, total) => progress.update(done, total),
        });
      } finally {
        progress.finish();
      }
      graphs[plan.name] = result;
    }

    await copySideFiles(fromDir, staging);
    const manifest: WrittenBundleManifest = {
      converterVersion: CONVERTER_VERSION,
      sourceFingerprint,
      dtype: opts.dtype,
      ...(opts.dtype === "fp16" ? { float32Compute } : {}),
      rotary,
      createdAt: new Date().toISOString(),
      source: opts.source ?? { kind: "checkpoint", path: path.resolve(fromDir) },
      graphs,
      ...(opts.imageBounds ? { imageBounds: opts.imageBounds } : {}),
    };
    await writeFile(path.join(staging, "vlcache.json"), JSON.stringify(manifest, null, 2) + "\n");
    await rm(outDir, { recursive: true, force: true });
    await rename(staging, outDir);
    return manifest;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  } finally {
    await checkpoint.close();
  }
}

export interface RandomConvertOptions extends ConvertOptions {
  seed: number;
  /**
   * Image-size bounds for preprocessor_config.json; default: the preset's, or for a config.json the closest preset's.
   */
  imageSize?: ImageSizeBounds;
  /** Keep the generated Hub-style checkpoint here; otherwise it lives in a temp folder removed afterwards. */
  checkpointDir?: string;
}

/**
 * `--random PRESET|config.json`: writes a seeded random checkpoint (randomCheckpoint.ts), then converts it exactly like
 * `--from`. Its image-size bounds are `opts.imageSize`, else the preset's — for a config.json path, the closest
 * preset's (presets.ts `closestPreset`) — and vlcache.json records which (`imageBounds`).
 */
export async function convertRandom(
  presetOrConfigPath: string,
  outDir: string,
  opts: RandomConvertOptions,
): Promise<WrittenBundleManifest> {
  const { configJson, boundsPreset, presetName } = await resolveRandomSource(presetOrConfigPath);
  const imageSize = opts.imageSize ?? boundsPreset.imageSize;
  checkImageSize(imageSize);
  const imageBounds: BundleManifest["imageBounds"] = {
    minPixels: imageSize.shortestEdge,
    maxPixels: imageSize.longestEdge,
    from: opts.imageSize ? { kind: "option" } : { kind: "preset", preset: boundsPreset.name },
  };
  const checkpointDir = opts.checkpointDir ?? (await mkdtemp(path.join(os.tmpdir(), "vlcache-random-")));
  try {
    const progress = startProgress(opts.progress, `random checkpoint (seed ${opts.seed})`);
    try {
      await writeRandomCheckpoint(checkpointDir, {
        seed: opts.seed,
        configJson,
        imageSize,
        onProgress: (d, t) => progress.update(d, t),
      });
    } finally {
      progress.finish();
    }
    return await convertCheckpoint(checkpointDir, outDir, {
      ...opts,
      source: { kind: "random", preset: presetName, seed: opts.seed },
      imageBounds,
    });
  } finally {
    if (opts.checkpointDir === undefined) await rm(checkpointDir, { recursive: true, force: true });
  }
}

async function resolveRandomSource(
  presetOrConfigPath: string,
): Promise<{ configJson: Record<string, unknown>; boundsPreset: Preset; presetName: string }> {
  const named = PRESET_NAMES.find((name) => name === presetOrConfigPath);
  if (named !== undefined) {
    const preset = getPreset(named);
    return { configJson: preset.configJson, boundsPreset: preset, presetName: preset.name };
  }
  if (!existsSync(presetOrConfigPath)) {
    throw new ConvertError(
      "missing_source",
      `--random takes tiny, small, 2b or a config.json path; ${presetOrConfigPath} is none of these`,
    );
  }
  let configJson: Record<string, unknown>;
  let config: Qwen3VLConfig;
  try {
    configJson = JSON.parse(await readFile(presetOrConfigPath, "utf8"));
    config = parseQwen3VLConfig(configJson);
  } catch (error) {
    throw new ConvertError("bad_config", `${presetOrConfigPath}: ${(error as Error).message}`);
  }
  return { configJson, boundsPreset: closestPreset(config), presetName: path.resolve(presetOrConfigPath) };
}

function checkImageSize(bounds: ImageSizeBounds): void {
  const { shortestEdge: min, longestEdge: max } = bounds;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) {
    throw new ConvertError(
      "bad_config",
      `image bounds must be whole pixel counts with 1 ≤ min ≤ max; got min ${min}, max ${max}`,
    );
  }
}

async function prepareDestination(outDir: string, force: boolean): Promise<void> {
  if (existsSync(outDir) && !force) {
    throw new ConvertError("out_exists", `${outDir} already exists; pass --force to replace it`);
  }
  await mkdir(path.dirname(path.resolve(outDir)), { recursive: true });
}

/**
 * SHA-256 over the checkpoint's tensors in name order: each contributes its name, dtype, shape and stored bytes. It
 * identifies the weights independently of sharding and file order, and changes when any weight changes.
 */
export async function fingerprintWeights(checkpoint: SafetensorsCheckpoint, showProgress: boolean): Promise<string> {
  const names = checkpoint.names().sort();
  const hash = createHash("sha256");
  const progress = startProgress(showProgress, "fingerprint weights");
  const total = names.reduce((sum, name) => sum + checkpoint.byteLength(name), 0);
  let done = 0;
  try {
    progress.update(0, total);
    for (const name of names) {
      hash.update(`${name}\u0000${checkpoint.dtype(name)}\u0000${checkpoint.shape(name).join(",")}\u0000`);
      hash.update(await checkpoint.readRaw(name));
      done += checkpoint.byteLength(name);
      progress.update(done, total);
    }
  } finally {
    progress.finish();
  }
  return hash.digest("hex");
}

/** Config, tokenizer and preprocessing files travel with the bundle; the chat template becomes chat_template.jinja. */
async function copySideFiles(fromDir: string, toDir: string): Promise<void> {
  for (const file of REQUIRED_SOURCE_FILES) await copyFile(path.join(fromDir, file), path.join(toDir, file));
  const template = await findChatTemplate(fromDir);
  if (template !== null) await writeFile(path.join(toDir, "chat_template.jinja"), template);
}

/** chat_template.jinja, else chat_template.json's `chat_template` (older Hub repos), else tokenizer_config.json's. */
async function findChatTemplate(dir: string): Promise<string | null> {
  const jinja = path.join(dir, "chat_template.jinja");
  if (existsSync(jinja)) return readFile(jinja, "utf8");
  for (const file of ["chat_template.json", "tokenizer_config.json"]) {
    const full = path.join(dir, file);
    if (!existsSync(full)) continue;
    const template = (JSON.parse(await readFile(full, "utf8")) as { chat_template?: unknown }).chat_template;
    if (typeof template === "string") return template;
  }
  return null;
}

interface PhaseProgress {
  update(done: number, total: number): void;
  finish(): void;
}

/** A progress display created lazily, once the phase knows its total. */
function startProgress(enabled: boolean | undefined, label: string): PhaseProgress {
  let progress: Progress | null = null;
  let lastTotal = 0;
  return {
    update: (done, total) => {
      if (!enabled) return;
      progress ??= createProgress(label, total);
      lastTotal = total;
      progress.update(done);
    },
    finish: () => {
      if (progress && lastTotal > 0) progress.finish();
    },
  };
}
