/**
 * A model bundle on disk (the bundle contract in models/README.md): config.json, generation_config.json,
 * vlcache.json and onnx/{vision_encoder,embed_tokens,decoder_model_merged}.onnx, opened as three ORT sessions: the
 * vision encoder and the decoder on the chosen execution provider, embed_tokens always on the CPU.
 *
 * Lifecycle: `openBundle` validates the JSON files first (cheap, precise errors), then opens the sessions; if any
 * session fails, the ones already open are released before the error propagates. `release()` frees all three.
 */

import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type * as ort from "onnxruntime-node";
import { z } from "zod";
import { bundleManifestSchema, floatTypeOf, type BundleManifest } from "@/lib/model/bundleManifest";
import { parseQwen3VLConfig, type Qwen3VLConfig } from "@/lib/model/config";
import type { Logger } from "@/lib/log";
import { BundleLoadError } from "./errors";
import {
  ExecutionProviderUnavailableError,
  logProviderChoice,
  openCandidates,
  providerSessionFactory,
  type ExecutionProviderChoice,
  type ExecutionProviderName,
  type OpenSessionOptions,
  type SessionFactory,
  type SessionTuning,
} from "./executionProvider";
import { chooseProvider } from "./providerProbe";

export type { BundleManifest };

const tokenIds = z.union([z.number().int(), z.array(z.number().int())]);
const generationConfigSchema = z.object({
  eos_token_id: tokenIds.optional(),
  pad_token_id: tokenIds.nullish(),
});

export interface BundleSessions {
  readonly visionEncoder: ort.InferenceSession;
  readonly embedTokens: ort.InferenceSession;
  readonly decoder: ort.InferenceSession;
}

export interface OpenedBundle {
  readonly dir: string;
  readonly config: Qwen3VLConfig;
  readonly manifest: BundleManifest;
  /** Tokens that end generation (generation_config.json's eos_token_id, one or several). */
  readonly eosTokenIds: readonly number[];
  readonly executionProvider: ExecutionProviderName;
  /** Opens further sessions on the same provider: the small graphs of kvOps.ts and featureOps.ts. */
  readonly sessionFactory: SessionFactory;
  readonly sessions: BundleSessions;
  /** Whether the decoder takes DeepStack inputs (the model has DeepStack layers). */
  readonly deepstack: boolean;
  release(): Promise<void>;
}

export const ONNX_FILES = {
  visionEncoder: "onnx/vision_encoder.onnx",
  embedTokens: "onnx/embed_tokens.onnx",
  decoder: "onnx/decoder_model_merged.onnx",
} as const;

async function readJson(dir: string, name: string): Promise<unknown> {
  const file = path.join(dir, name);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new BundleLoadError("bundle_missing_file", file, reasonOf(error));
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BundleLoadError("bundle_bad_file", file, `not valid JSON (${reasonOf(error)})`);
  }
}

function parseWith<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new BundleLoadError("bundle_bad_file", file, reasonOf(error));
  }
}

export interface OpenBundleOptions extends SessionTuning {
  readonly executionProvider?: ExecutionProviderChoice;
  readonly logger?: Logger;
}

export async function openBundle(dir: string, opts: OpenBundleOptions = {}): Promise<OpenedBundle> {
  const root = path.resolve(dir);
  const configJson = await readJson(root, "config.json");
  const config = parseWith(path.join(root, "config.json"), () => parseQwen3VLConfig(configJson));
  const manifestJson = await readJson(root, "vlcache.json");
  const manifest = parseWith(path.join(root, "vlcache.json"), () => zodParse(bundleManifestSchema, manifestJson));
  const generationJson = await readJson(root, "generation_config.json");
  const generation = parseWith(path.join(root, "generation_config.json"), () =>
    zodParse(generationConfigSchema, generationJson),
  );
  const eos = generation.eos_token_id;
  const eosTokenIds = eos === undefined ? [] : Array.isArray(eos) ? eos : [eos];

  for (const relative of Object.values(ONNX_FILES)) {
    const file = path.join(root, relative);
    const info = await stat(file).catch((error: unknown) => {
      throw new BundleLoadError("bundle_missing_file", file, reasonOf(error));
    });
    if (!info.isFile()) throw new BundleLoadError("bundle_bad_file", file, "not a regular file");
  }

  const opened: ort.InferenceSession[] = [];
  const releaseAll = async () => {
    await Promise.all(opened.map((s) => s.release()));
  };
  try {
    const openWith = async (factory: SessionFactory, relative: string, options?: OpenSessionOptions) => {
      const file = path.join(root, relative);
      try {
        const session = await factory.open(file, options);
        opened.push(session);
        return session;
      } catch (error) {
        throw new BundleLoadError("bundle_session_failed", file, reasonOf(error));
      }
    };
    // embed_tokens runs on the CPU whatever the provider: it looks up a few rows, which prefill needs in host memory
    // anyway (image features are written into them there), so a GPU would only add a round trip and hold the table
    // (1.2 GB at 2b in fp32). Measured on an H200 with the decoder on WebGPU: an 800-token prefill 178 vs 205 ms,
    // decoding the same speed (scripts/gpu/embed-placement.ts).
    const embedTokens = await openWith(providerSessionFactory("cpu", opts), ONNX_FILES.embedTokens);
    const choice = opts.executionProvider ?? "auto";
    const deepstack = config.vision.deepstackVisualIndexes.length > 0;
    const floatType = floatTypeOf(manifest.dtype);
    // The KV (`present.*`) stays in device memory where the provider allows it; logits always come to the host.
    const presentOnDevice = { outputsOnDevice: presentOutputNames(config.text.numHiddenLayers) };
    const decoderFile = path.join(root, ONNX_FILES.decoder);
    const { candidates, failures } = await openCandidates(choice, decoderFile, opts, presentOnDevice).catch(
      (error: unknown) => {
        if (error instanceof ExecutionProviderUnavailableError)
          throw new BundleLoadError("bundle_session_failed", decoderFile, error.message);
        throw error;
      },
    );
    const chosen = await chooseProvider(choice, candidates, failures, (decoder) => ({
      embedTokens,
      decoder,
      config,
      floatType,
      deepstack,
    }));
    const { factory, decoder } = chosen;
    opened.push(decoder);
    logProviderChoice(opts.logger, factory.executionProvider, choice, chosen.why, chosen.failures);
    // Its outputs stay in device memory where the provider allows it: a request's prefill reads them there, and the
    // host copy (L1, `Engine.encodeImages`) is read back through featureOps.ts.
    const visionEncoder = await openWith(factory, ONNX_FILES.visionEncoder, {
      outputsOnDevice: visionOutputNames(deepstack),
    });
    checkDecoderInputs(decoderFile, decoder, config, deepstack);
    return {
      dir: root,
      config,
      manifest,
      eosTokenIds,
      executionProvider: factory.executionProvider,
      sessionFactory: factory,
      sessions: { visionEncoder, embedTokens, decoder },
      deepstack,
      release: releaseAll,
    };
  } catch (error) {
    await releaseAll();
    throw error;
  }
}

/**
 * The vision encoder's outputs (graphs/visionEncoder.ts): `deepstack_features` exists only with DeepStack. Naming an
 * output the graph lacks makes WebGPU refuse the session while the CPU provider ignores the names.
 */
export function visionOutputNames(deepstack: boolean): string[] {
  return deepstack ? ["image_features", "deepstack_features"] : ["image_features"];
}

export function presentOutputNames(numLayers: number): string[] {
  return Array.from({ length: numLayers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat();
}

/** The decoder must expose the contract's inputs for this config; a bundle built for another config fails here. */
function checkDecoderInputs(
  file: string,
  decoder: ort.InferenceSession,
  config: Qwen3VLConfig,
  deepstack: boolean,
): void {
  const expected = ["inputs_embeds", "attention_mask", "position_ids", "num_logits_to_keep"];
  for (let i = 0; i < config.text.numHiddenLayers; i++)
    expected.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
  if (deepstack) expected.push("visual_pos_masks", "deepstack_visual_embeds");
  const missing = expected.filter((name) => !decoder.inputNames.includes(name));
  if (missing.length > 0) {
    throw new BundleLoadError(
      "bundle_bad_file",
      file,
      `decoder lacks inputs ${missing.join(", ")} required by config.json`,
    );
  }
}

function zodParse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new Error(result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "));
  }
  return result.data;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
