import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { HealthResponse } from "@/lib/api/types";
import type { AppConfig } from "@/lib/config";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import type { ImageStatus } from "@/lib/api/types";
import type { PrecomputeState } from "@/lib/cache/l1Features";
import type { ImageId, TenantId } from "@/lib/ids";
import type { CanonicalImage } from "@/lib/images/canonicalize";
import type { PixelBudget } from "@/lib/images/pixelBudget";
import type { ModelCaches } from "@/lib/inference/modelCaches";
import { storedImages } from "@/lib/inference/imageSource";
import { loadInferenceModel, type InferenceModel } from "@/lib/inference/inferenceModel";
import { InferencePipeline } from "@/lib/inference/pipeline";
import { GenerationScheduler } from "@/lib/inference/scheduler";
import type { Logger } from "@/lib/log";
import { CONVERTER_VERSION } from "@/lib/model/convert/convert";
import { BundleLoadError } from "@/lib/model/engine/errors";
import type { ImagePrecompute } from "./images";
import { RequestError } from "./requestError";

/**
 * The model this process serves: which bundle, loading it in the background, and the one InferencePipeline (one
 * engine queue) every route shares.
 *
 * Lifecycle: `startModelHost` returns at once in state `loading`; loading then
 *   1. picks the bundle: MODEL_DIR, or else the default test bundle `<CACHE_DIR>/models/tiny-seed0` (seeded random
 *      weights), which is converted on the first start and reused afterwards (rebuilt when the converter changed);
 *   2. loads it (tokenizer, template, ORT sessions on EXECUTION_PROVIDER) and builds the pipeline with the cache seams;
 * and ends in `ready`, or in `failed` with the reason (a missing or broken bundle), which /api/health reports and every
 * generating request answers with 503. A failed load is not retried: the bundle must be fixed and the app restarted.
 * Each step is logged, and converting the default bundle prints progress lines.
 */

/** The bundle served when MODEL_DIR is unset: a seeded random-weight `tiny` model, for trying the app out. */
export const DEFAULT_BUNDLE = { preset: "tiny", seed: 0 } as const;

export function defaultBundleDir(cacheDir: string): string {
  return path.join(cacheDir, "models", `${DEFAULT_BUNDLE.preset}-seed${DEFAULT_BUNDLE.seed}`);
}

export interface ServedModel {
  /** The model's name on the API (/v1/models, the `model` field) and in /api/health. */
  readonly id: string;
  readonly info: NonNullable<HealthResponse["model"]>;
  /** Unix seconds when the bundle was built (vlcache.json createdAt), for /v1/models. */
  readonly created: number;
  readonly model: InferenceModel;
  /** Its three cache levels; the pipeline uses their seams. */
  readonly caches: ModelCaches;
  readonly pipeline: InferencePipeline;
}

export type ModelStatus =
  | { readonly state: "loading"; readonly bundleDir: string }
  | { readonly state: "ready"; readonly served: ServedModel }
  | { readonly state: "failed"; readonly code: string; readonly message: string };

export type CacheFactory = (model: InferenceModel, store: BlobStore, logger: Logger) => ModelCaches;

export interface ModelHostDeps {
  readonly config: Pick<AppConfig, "modelDir" | "cacheDir" | "executionProvider" | "maxImagePixels" | "maxQueuedRequests" | "requestImages">;
  readonly store: BlobStore;
  /** The process's decode budget, shared with uploads (runtime.ts). */
  readonly decodeBudget: PixelBudget;
  readonly logger: Logger;
  readonly createCaches: CacheFactory;
}

/** Seconds a client is told to wait while the model loads. */
const LOADING_RETRY_SECONDS = 5;

export class ModelHost implements ImagePrecompute {
  private current: ModelStatus;
  /** Settles when loading has ended, either way. */
  readonly settled: Promise<void>;

  private constructor(private readonly deps: ModelHostDeps) {
    const bundleDir = deps.config.modelDir ?? defaultBundleDir(deps.config.cacheDir);
    this.current = { state: "loading", bundleDir };
    this.settled = this.load(bundleDir);
  }

  static start(deps: ModelHostDeps): ModelHost {
    return new ModelHost(deps);
  }

  get status(): ModelStatus {
    return this.current;
  }

  /** The served model, or a 503 RequestError saying why there is none (still loading, or the reason it failed). */
  ready(): ServedModel {
    const status = this.current;
    if (status.state === "ready") return status.served;
    if (status.state === "loading") {
      throw new RequestError(503, "model_loading", `the model is still loading from ${status.bundleDir}; retry shortly`, LOADING_RETRY_SECONDS);
    }
    throw new RequestError(503, "model_unavailable", `no model is being served: ${status.message}`);
  }

  /**
   * An upload's L1 precompute once the model is ready; before that, the first request encodes the image. Best effort:
   * the image is stored already, so an image this model cannot take (e.g. smaller than its patch grid) is not an
   * upload error; it is reported `ready`, and a question about it gets the model's refusal (422 invalid_image).
   */
  precompute(image: CanonicalImage, tenant: TenantId): ImageStatus {
    if (this.current.state !== "ready") return "ready";
    try {
      return this.current.served.caches.precompute(image, tenant);
    } catch (error) {
      this.deps.logger.warn({ module: "model", imageId: image.id, err: error }, "upload precompute skipped: the model cannot encode this image");
      return "ready";
    }
  }

  imageState(imageId: ImageId, tenant: TenantId): Promise<PrecomputeState> {
    if (this.current.state !== "ready") return Promise.resolve({ status: "ready", encodingMs: null });
    return this.current.served.caches.imageState(imageId, tenant);
  }

  async release(): Promise<void> {
    await this.settled;
    if (this.current.state === "ready") await this.current.served.model.release();
  }

  private async load(bundleDir: string): Promise<void> {
    const { config, logger } = this.deps;
    const log = logger.child({ module: "model" });
    const startedAt = Date.now();
    try {
      if (config.modelDir === undefined) await ensureDefaultBundle(bundleDir, log);
      else if (!existsSync(config.modelDir)) {
        throw new ModelSetupError("model_dir_missing", `MODEL_DIR=${config.modelDir} does not exist; convert a checkpoint into it with npm run convert (see README)`);
      }
      log.info({ bundleDir, executionProvider: config.executionProvider }, "loading model bundle");
      const model = await loadInferenceModel(bundleDir, { executionProvider: config.executionProvider, logger: log });
      const manifest = await readBundleSource(bundleDir);
      const caches = this.deps.createCaches(model, this.deps.store, logger);
      const pipeline = new InferencePipeline({
        model,
        images: storedImages(this.deps.store, this.deps.decodeBudget),
        maxImagePixels: config.maxImagePixels,
        imageLimits: config.requestImages,
        decodeBudget: this.deps.decodeBudget,
        seams: caches.seams,
        scheduler: new GenerationScheduler({ maxQueued: config.maxQueuedRequests }),
        logger,
      });
      const served: ServedModel = {
        id: manifest.name,
        info: { name: manifest.name, isRandomTestModel: manifest.random, executionProvider: model.engine.executionProvider },
        created: manifest.created,
        model,
        caches,
        pipeline,
      };
      this.current = { state: "ready", served };
      log.info(
        { model: served.id, randomWeights: manifest.random, executionProvider: served.info.executionProvider, ms: Date.now() - startedAt },
        manifest.random ? `model ${served.id} ready: a RANDOM-WEIGHT TEST MODEL, its answers are gibberish by design` : `model ${served.id} ready`,
      );
    } catch (error) {
      const code = error instanceof BundleLoadError || error instanceof ModelSetupError ? error.code : "model_load_failed";
      const message = error instanceof Error ? error.message : String(error);
      this.current = { state: "failed", code, message };
      log.error({ err: error, bundleDir, code }, `model failed to load: ${message}`);
    }
  }
}

/** A model that could not be set up before loading: MODEL_DIR missing, or the default bundle's conversion failed. */
export class ModelSetupError extends Error {
  constructor(
    readonly code: "model_dir_missing" | "default_bundle_failed",
    message: string,
  ) {
    super(message);
    this.name = "ModelSetupError";
  }
}

/**
 * Makes sure the default test bundle exists in `bundleDir` and was written by this converter version (an older one may
 * not match today's engine), converting it otherwise. Used by the app at start and by `npm run demo` before the app
 * starts.
 *
 * The conversion runs as `npm run convert` does, in a child process (tsx, from the project root): the converter reads
 * its side files (tokenizer, chat template) through Node's module resolution, which the Next.js server bundle rewrites;
 * and the server stays responsive (health answers `starting`) while it works. Its progress lines go to this process's
 * output.
 */
export async function ensureDefaultBundle(bundleDir: string, log: Logger): Promise<"reused" | "built"> {
  const manifestFile = path.join(bundleDir, "vlcache.json");
  if (existsSync(manifestFile)) {
    const manifest = JSON.parse(await readFile(manifestFile, "utf8")) as { converterVersion?: unknown };
    if (manifest.converterVersion === CONVERTER_VERSION) return "reused";
    log.info({ bundleDir, was: manifest.converterVersion, now: CONVERTER_VERSION }, "the default test bundle was built by another converter version; rebuilding it");
  }
  const { preset, seed } = DEFAULT_BUNDLE;
  log.info({ bundleDir, preset, seed }, `MODEL_DIR is unset: building the default random-weight test bundle (${preset}, seed ${seed})`);
  const tsx = path.join(process.cwd(), "node_modules", "tsx", "dist", "cli.mjs");
  const args = [tsx, path.join("scripts", "convert.ts"), "--random", preset, "--seed", String(seed), "--out", bundleDir, "--force"];
  const child = spawn(process.execPath, args, { cwd: process.cwd(), stdio: ["ignore", "inherit", "inherit"] });
  const exit = await new Promise<number | string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  if (exit !== 0) throw new ModelSetupError("default_bundle_failed", `building the default test bundle in ${bundleDir} failed (npm run convert exited with ${exit}; its output is above)`);
  return "built";
}

const bundleSourceSchema = z.object({
  createdAt: z.string().optional(),
  source: z
    .discriminatedUnion("kind", [
      z.object({ kind: z.literal("checkpoint"), path: z.string() }),
      z.object({ kind: z.literal("random"), preset: z.string(), seed: z.number() }),
    ])
    .optional(),
});

/**
 * Name and origin from vlcache.json (already validated by the engine): a checkpoint's folder name (e.g.
 * Qwen3-VL-2B-Instruct), or `random-<preset>-seed<N>` for random weights; the bundle folder's name when the manifest
 * does not say.
 */
async function readBundleSource(bundleDir: string): Promise<{ name: string; random: boolean; created: number }> {
  const parsed = bundleSourceSchema.safeParse(JSON.parse(await readFile(path.join(bundleDir, "vlcache.json"), "utf8")));
  const manifest = parsed.success ? parsed.data : {};
  const createdMs = Date.parse(manifest.createdAt ?? "");
  const created = Math.floor((Number.isNaN(createdMs) ? Date.now() : createdMs) / 1000);
  const source = manifest.source;
  if (source?.kind === "random") return { name: `random-${path.basename(source.preset, ".json")}-seed${source.seed}`, random: true, created };
  if (source?.kind === "checkpoint") return { name: path.basename(source.path), random: false, created };
  return { name: path.basename(path.resolve(bundleDir)), random: false, created };
}
