/**
 * One bundle, ready to serve: the engine's shared ORT sessions plus everything the pipeline needs around them
 * (tokenizer, chat template, image preprocessing parameters) and the identities the caches key on.
 *
 * Loading fails with the engine's BundleLoadError naming the file and the reason, for the side files too (a broken
 * tokenizer.json is as fatal as a broken decoder). The side files are read first, so a bad one fails before the ORT
 * sessions are opened; nothing stays open after a failure.
 */

import path from "node:path";
import type { JsonValue } from "@/lib/cache/canonicalJson";
import { preprocessDigest, type PreprocessDigest } from "@/lib/cache/featureIdentity";
import { modelFingerprint } from "@/lib/cache/modelFingerprint";
import type { ModelFingerprint } from "@/lib/ids";
import { loadPreprocessorConfig, type PreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";
import type { Logger } from "@/lib/log";
import { Engine } from "@/lib/model/engine/engine";
import { BundleLoadError } from "@/lib/model/engine/errors";
import type { ExecutionProviderChoice, WebGpuBufferCache } from "@/lib/model/engine/executionProvider";
import { loadChatTemplate } from "@/lib/text/chatTemplate";
import { PromptBuilder } from "@/lib/text/prompt";
import { TextTokenizer } from "@/lib/text/tokenizer";

export interface InferenceModel {
  readonly dir: string;
  readonly engine: Engine;
  readonly tokenizer: TextTokenizer;
  readonly prompts: PromptBuilder;
  readonly preprocessor: PreprocessorConfig;
  /** Digest of the preprocessing parameters: part of every image's FeatureIdentity. */
  readonly preprocessDigest: PreprocessDigest;
  /** What every model-dependent cache key carries (lib/cache/modelFingerprint.ts). */
  readonly fingerprint: ModelFingerprint;
  /** Token ids that end an answer: generation_config's eos_token_id plus `<|im_end|>`. */
  readonly stopTokenIds: ReadonlySet<number>;
  /** The model's context length (max_position_embeddings). */
  readonly maxPositions: number;
  release(): Promise<void>;
}

export interface LoadModelOptions {
  readonly executionProvider?: ExecutionProviderChoice;
  /** WebGPU's buffer cache (executionProvider.ts); `simple` also pads decode loops' KV (kvPadding.ts). */
  readonly webgpuBufferCache?: WebGpuBufferCache;
  /** Forces padded decode KV on or off (engine.ts's default: device KV under `simple`); tests pad on the CPU. */
  readonly kvPadding?: boolean;
  readonly logger?: Logger;
  /** EngineOptions.imageFeaturesOnDevice (tests run the device path over CPU sessions with it). */
  readonly imageFeaturesOnDevice?: boolean;
}

async function sideFile<T>(file: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw new BundleLoadError("bundle_bad_file", file, (error as Error).message);
  }
}

export async function loadInferenceModel(dir: string, options: LoadModelOptions = {}): Promise<InferenceModel> {
  const root = path.resolve(dir);
  const tokenizer = await sideFile(path.join(root, "tokenizer.json"), () => TextTokenizer.load(root));
  const template = await sideFile(path.join(root, "chat_template.jinja"), () =>
    loadChatTemplate(root, tokenizer.config),
  );
  const preprocessor = await sideFile(path.join(root, "preprocessor_config.json"), () => loadPreprocessorConfig(root));
  const imEnd = await sideFile(path.join(root, "tokenizer.json"), async () => tokenizer.tokenId("<|im_end|>"));
  const prompts = await sideFile(
    path.join(root, "tokenizer.json"),
    async () => new PromptBuilder(tokenizer, template, preprocessor.mergeSize),
  );

  const engine = await Engine.load(root, options);
  const preprocessorJson = preprocessor as unknown as JsonValue;
  const manifest = engine.manifest;
  let fingerprint: ModelFingerprint;
  try {
    fingerprint = modelFingerprint({
      sourceFingerprint: manifest.sourceFingerprint,
      dtype: manifest.dtype,
      converterVersion: String(manifest.converterVersion),
      graphForm: { rotary: manifest.rotary ?? null, float32Compute: manifest.float32Compute ?? null },
      preprocessor: preprocessorJson,
      chatTemplate: template.text,
    });
  } catch (error) {
    await engine.release();
    throw new BundleLoadError("bundle_bad_file", path.join(root, "vlcache.json"), (error as Error).message);
  }
  return {
    dir: root,
    engine,
    tokenizer,
    prompts,
    preprocessor,
    preprocessDigest: preprocessDigest(preprocessorJson),
    fingerprint,
    stopTokenIds: new Set([...engine.eosTokenIds, imEnd]),
    maxPositions: engine.config.text.maxPositionEmbeddings,
    release: () => engine.release(),
  };
}
