/**
 * The model this process serves: which bundle, loading it in the background, and the one InferencePipeline (one
 * engine queue) every route shares.
 *
 * Lifecycle: `startModelHost` returns at once in state `loading`; loading then
 *   1. picks the bundle: MODEL_DIR, or else the default test bundle `<CACHE_DIR>/models/tiny-seed0` (seeded random
 *      weights), which is converted on the first start and reused afterwards (rebuilt when the converter changed);
 *   2. loads it (tokenizer, template, ORT sessions on EXECUTION_PROVIDER) and builds the pipeline with the cache seams;
 * and ends in `ready`, or in `failed` with the reason (a missing or broken bundle), which /api/health reports and every
 * generating request answers with 503. Images uploaded while it loads are encoded once it is ready
 * (uploadPrecompute.ts). A failed load is not retried: the bundle must be fixed and the app restarted.
 * Each step is logged, and converting the default bundle prints progress lines.
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { HealthResponse } from "@/lib/api/types";
import type { AppConfig } from "@/lib/config";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import type { ImageStatus } from "@/lib/api/types";
import type { PrecomputeState } from "@/lib/cache/precomputeStatus";
import type { ImageId, TenantId } from "@/lib/ids";
import type { PixelBudget } from "@/lib/images/pixelBudget";
import type { ModelCaches, UploadedImage } from "@/lib/inference/modelCaches";
import { storedImages } from "@/lib/inference/imageSource";
import { loadInferenceModel, type InferenceModel } from "@/lib/inference/inferenceModel";
import { InferencePipeline } from "@/lib/inference/pipeline";
import { GenerationScheduler } from "@/lib/inference/scheduler";
import type { Logger } from "@/lib/log";
import { bundleManifestSchema, type BundleManifest } from "@/lib/model/bundleManifest";
import { CONVERTER_VERSION } from "@/lib/model/convert/convert";
import { BundleLoadError } from "@/lib/model/engine/errors";
import { loadCanonicalImage } from "@/lib/cache/imageStore";
import type { ImagePrecompute } from "./images";
import { RequestError } from "./requestError";
import { UploadPrecompute } from "./uploadPrecompute";

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
  readonly config: Pick<
    AppConfig,
    | "modelDir"
    | "cacheDir"
    | "executionProvider"
    | "webgpuBufferCache"
    | "maxImagePixels"
    | "maxQueuedRequests"
    | "requestImages"
  >;
  /** Where uploaded images are (user data). */
  readonly store: BlobStore;
  /** Where the model's caches keep their shared entries. */
  readonly cacheStore: BlobStore;
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
  private readonly uploads: UploadPrecompute;

  private constructor(private readonly deps: ModelHostDeps) {
    const bundleDir = deps.config.modelDir ?? defaultBundleDir(deps.config.cacheDir);
    this.current = { state: "loading", bundleDir };
    this.uploads = new UploadPrecompute(async (imageId, tenant) => {
      const image = await loadCanonicalImage(imageId, { store: deps.store }, tenant);
      return image && { id: imageId, ...image };
    }, deps.logger);
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
      throw new RequestError(
        503,
        "model_loading",
        `the model is still loading from ${status.bundleDir}; retry shortly`,
        LOADING_RETRY_SECONDS,
      );
    }
    throw new RequestError(503, "model_unavailable", `no model is being served: ${status.message}`);
  }

  /** An upload's L1 precompute: at once when the model is ready, else as soon as it is (uploadPrecompute.ts). */
  precompute(image: UploadedImage, tenant: TenantId): ImageStatus {
    return this.uploads.precompute(image, tenant);
  }

  imageState(imageId: ImageId, tenant: TenantId): Promise<PrecomputeState> {
    return this.uploads.imageState(imageId, tenant);
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
        throw new ModelSetupError(
          "model_dir_missing",
          `MODEL_DIR=${config.modelDir} does not exist; convert a checkpoint into it with npm run convert (see README)`,
        );
      }
      log.info({ bundleDir, executionProvider: config.executionProvider }, "loading model bundle");
      const model = await loadInferenceModel(bundleDir, {
        executionProvider: config.executionProvider,
        webgpuBufferCache: config.webgpuBufferCache,
        logger: log,
      });
      const origin = bundleIdentity(bundleDir, model.engine.manifest);
      const caches = this.deps.createCaches(model, this.deps.cacheStore, logger);
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
        id: origin.name,
        info: {
          name: origin.name,
          isRandomTestModel: origin.random,
          executionProvider: model.engine.executionProvider,
        },
        created: origin.created,
        model,
        caches,
        pipeline,
      };
      this.current = { state: "ready", served };
      void this.uploads.modelReady(servedPrecompute(caches, log));
      log.info(
        {
          model: served.id,
          randomWeights: origin.random,
          executionProvider: served.info.executionProvider,
          ms: Date.now() - startedAt,
        },
        origin.random
          ? `model ${served.id} ready: a RANDOM-WEIGHT TEST MODEL, its answers are gibberish by design`
          : `model ${served.id} ready`,
      );
    } catch (error) {
      const code =
        error instanceof BundleLoadError || error instanceof ModelSetupError ? error.code : "model_load_failed";
      const message = error instanceof Error ? error.message : String(error);
      this.current = { state: "failed", code, message };
      this.uploads.modelFailed();
      log.error({ err: error, bundleDir, code }, `model failed to load: ${message}`);
    }
  }
}

/**
 * The served model's upload precompute. Best effort: the image is stored already, so an image this model cannot take
 * (e.g. smaller than its patch grid) is not an upload error; it is reported `ready`, and a question about it gets the
 * model's refusal (422 invalid_image).
 */
function servedPrecompute(caches: ModelCaches, log: Logger): ImagePrecompute {
  return {
    precompute(image, tenant) {
      try {
        return caches.precompute(image, tenant);
      } catch (error) {
        log.warn({ imageId: image.id, err: error }, "upload precompute skipped: the model cannot encode this image");
        return "ready";
      }
    },
    imageState: (imageId, tenant) => caches.imageState(imageId, tenant),
  };
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
    const manifest = bundleManifestSchema.safeParse(JSON.parse(await readFile(manifestFile, "utf8")));
    const builtBy = manifest.success ? manifest.data.converterVersion : null;
    if (builtBy === CONVERTER_VERSION) return "reused";
    log.info(
      { bundleDir, was: builtBy, now: CONVERTER_VERSION },
      "the default test bundle was built by another converter version; rebuilding it",
    );
  }
  const { preset, seed } = DEFAULT_BUNDLE;
  log.info(
    { bundleDir, preset, seed },
    `MODEL_DIR is unset: building the default random-weight test bundle (${preset}, seed ${seed})`,
  );
  const tsx = path.join(process.cwd(), "node_modules", "tsx", "dist", "cli.mjs");
  const args = [
    tsx,
    path.join("scripts", "convert.ts"),
    "--random",
    preset,
    "--seed",
    String(seed),
    "--out",
    bundleDir,
    "--force",
  ];
  const child = spawn(process.execPath, args, { cwd: process.cwd(), stdio: ["ignore", "inherit", "inherit"] });
  const exit = await new Promise<number | string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  if (exit !== 0)
    throw new ModelSetupError(
      "default_bundle_failed",
      `building the default test bundle in ${bundleDir} failed (npm run convert exited with ${exit}; its output is above)`,
    );
  return "built";
}

/**
 * Name and origin from vlcache.json (as the engine validated it): a checkpoint's folder name (e.g.
 * Qwen3-VL-2B-Instruct), or `random-<preset>-seed<N>` for random weights; the bundle folder's name when the manifest
 * does not say.
 */
function bundleIdentity(
  bundleDir: string,
  manifest: BundleManifest,
): { name: string; random: boolean; created: number } {
  const createdMs = Date.parse(manifest.createdAt ?? "");
  const created = Math.floor((Number.isNaN(createdMs) ? Date.now() : createdMs) / 1000);
  const source = manifest.source;
  if (source?.kind === "random")
    return { name: `random-${path.basename(source.preset, ".json")}-seed${source.seed}`, random: true, created };
  if (source?.kind === "checkpoint") return { name: path.basename(source.path), random: false, created };
  return { name: path.basename(path.resolve(bundleDir)), random: false, created };
}
