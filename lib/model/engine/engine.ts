import { floatTypeOf } from "@/lib/model/bundleManifest";
import type { Qwen3VLConfig } from "@/lib/model/config";
import { imageTokenCount, type ImageGrid } from "@/lib/images/preprocess/imageGrid";
import { timeStage } from "@/lib/stageTimes";
import { openBundle, type BundleManifest, type OpenBundleOptions, type OpenedBundle } from "./bundle";
import {
  argmax,
  decodeStep,
  prefill,
  preparePrompt,
  type DecoderSessions,
  type PreparedPrompt,
  type StepResult,
} from "./decoderSteps";
import { EngineInputError } from "./errors";
import type { ExecutionProviderName } from "./executionProvider";
import { FeatureOps, type PixelImage } from "./featureOps";
import {
  runVisionEncoder,
  splitImageFeatures,
  trackDeviceImageFeatures,
  type DeviceImageFeatures,
  type ImageFeatures,
  type PrefillImage,
  type VisionOutputs,
} from "./imageFeatures";
import { DecodeLoop } from "./decodeLoop";
import { emptyKvCache, type KvCache } from "./kvCache";
import { KvOps } from "./kvOps";
import { kvOpsPadding, type KvPadding } from "./kvPadding";

export interface GenerateRequest {
  /**
   * The whole prompt, image segments included (`<|vision_start|>` + one `<|image_pad|>` per merged patch +
   * `<|vision_end|>`).
   */
  readonly inputIds: readonly number[];
  /** [Σ t·h·w, C·T·P·P] patches of the prompt's images, in prompt order (empty without images). */
  readonly pixelValues?: Float32Array;
  readonly imageGridThw?: readonly ImageGrid[];
  readonly maxNewTokens: number;
  /** Tokens that stop generation (included in the result); default: generation_config.json's eos_token_id. */
  readonly eosTokenIds?: readonly number[];
}

export interface EngineOptions extends OpenBundleOptions {
  /**
   * Whether a request's freshly encoded image features stay where the vision encoder left them until prefill has read
   * them (`encodeImageOnDevice`); default: where the provider keeps outputs in device memory. The CPU tests turn it on
   * to run that path over CPU sessions.
   */
  readonly imageFeaturesOnDevice?: boolean;
  /**
   * Whether decode loops pad the KV to a capacity (kvPadding.ts); default: where it pays, i.e. KV in device memory
   * with the `simple` WebGPU buffer cache.
   */
  readonly kvPadding?: boolean;
}

/**
 * Qwen3-VL inference over a bundle's three ORT sessions. `generate` is greedy decoding end to end; the steps it is made
 * of (`encodeImages`, `prepare`, `prefill`, `decodeStep`, `decodeLoop`) are public so the caches can enter in between:
 * L1 supplies ImageFeatures instead of `encodeImages`, L2 supplies a KvCache covering a prompt prefix to `prefill`.
 */
export class Engine {
  private readonly steps: DecoderSessions;
  /** Cuts, joins, pads and downloads KV on the engine's provider (kvOps.ts). */
  readonly kvOps: KvOps;
  /** Places and downloads image features kept on the device (featureOps.ts). */
  private readonly featureOps: FeatureOps;
  /** See EngineOptions.imageFeaturesOnDevice. */
  readonly imageFeaturesOnDevice: boolean;

  /** Null: decode loops keep exact KV. */
  private readonly kvPadding: KvPadding | null;

  private constructor(
    private readonly bundle: OpenedBundle,
    opts: EngineOptions,
  ) {
    const floatType = floatTypeOf(bundle.manifest.dtype);
    this.kvOps = new KvOps(bundle.sessionFactory, bundle.config.text.numHiddenLayers, floatType);
    this.featureOps = new FeatureOps(bundle.sessionFactory, bundle.config, floatType);
    this.imageFeaturesOnDevice = opts.imageFeaturesOnDevice ?? bundle.sessionFactory.deviceOutputs;
    this.steps = {
      embedTokens: bundle.sessions.embedTokens,
      decoder: bundle.sessions.decoder,
      config: bundle.config,
      floatType,
      deepstack: bundle.deepstack,
      featureOps: this.featureOps,
    };
    const padding = opts.kvPadding ?? (bundle.sessionFactory.deviceOutputs && opts.webgpuBufferCache === "simple");
    this.kvPadding = padding ? kvOpsPadding(this.kvOps) : null;
  }

  static async load(dir: string, opts: EngineOptions = {}): Promise<Engine> {
    const engine = new Engine(await openBundle(dir, opts), opts);
    if (engine.imageFeaturesOnDevice) {
      try {
        await engine.featureOps.prepare();
      } catch (error) {
        await engine.release();
        throw error;
      }
    }
    return engine;
  }

  get config(): Qwen3VLConfig {
    return this.bundle.config;
  }
  get manifest(): BundleManifest {
    return this.bundle.manifest;
  }
  get executionProvider(): ExecutionProviderName {
    return this.bundle.executionProvider;
  }
  /** Whether the KV caches prefill and decodeStep return live in device memory (kvCache.ts). */
  get kvOnDevice(): boolean {
    return this.bundle.sessionFactory.deviceOutputs;
  }
  get eosTokenIds(): readonly number[] {
    return this.bundle.eosTokenIds;
  }

  /** Features of several images (`pixel_values` [Σ t·h·w, C·T·P·P], images in order), in host memory. */
  async encodeImages(pixelValues: Float32Array, grids: readonly ImageGrid[]): Promise<ImageFeatures[]> {
    const outputs = await runVisionEncoder(this.bundle.sessions.visionEncoder, this.config, pixelValues, grids);
    if (outputs === null) return [];
    return timeStage("vision_outputs", async () => {
      const host = await this.featureOps.toHost(outputs);
      return splitImageFeatures(this.config, grids, host.features, host.deepstack);
    });
  }

  /**
   * Features of one image left where the vision encoder put them (device memory on WebGPU), for `prefill`; the caller
   * owns them (releaseDeviceImageFeatures) and gets their host copy, for L1, with `downloadImageFeatures`. The pixels
   * come as patches (`pixel_values` [t·h·w, C·T·P·P]) or as the normalised image, cut into patches on the device
   * (featureOps.ts `patchify`: half the bytes to upload, the same pixel values).
   */
  async encodeImageOnDevice(pixels: Float32Array | PixelImage, grid: ImageGrid): Promise<DeviceImageFeatures> {
    const vision = this.bundle.sessions.visionEncoder;
    // Before the run: a grid it refuses must not leave the encoder's device outputs behind.
    const tokens = imageTokenCount(grid, this.config.vision.spatialMergeSize);
    let outputs: VisionOutputs | null;
    if (pixels instanceof Float32Array) outputs = await runVisionEncoder(vision, this.config, pixels, [grid]);
    else {
      const patches = await timeStage("patchify_device", () => this.featureOps.patchify(pixels));
      try {
        outputs = await runVisionEncoder(vision, this.config, patches, [grid]);
      } finally {
        patches.dispose();
      }
    }
    // One grid: the encoder ran (runVisionEncoder answers null for no images only).
    const { features, deepstack } = outputs!;
    return trackDeviceImageFeatures({ grid, tokens, hidden: this.config.text.hiddenSize, features, deepstack });
  }

  /** The host copy of device features: the same values `encodeImages` gives for the same image. */
  downloadImageFeatures(image: DeviceImageFeatures): Promise<ImageFeatures> {
    return this.featureOps.download(image);
  }

  prepare(inputIds: readonly number[], grids: readonly ImageGrid[] = []): PreparedPrompt {
    return preparePrompt(this.bundle.config, inputIds, grids);
  }

  emptyKv(): KvCache {
    return emptyKvCache(this.bundle.config.text, this.steps.floatType);
  }

  /** Prompt tokens [past.length, end) on top of `past`; see decoderSteps.prefill. */
  prefill(
    prompt: PreparedPrompt,
    images: readonly (PrefillImage | undefined)[],
    past: KvCache = this.emptyKv(),
    end?: number,
  ): Promise<StepResult> {
    return prefill(this.steps, prompt, images, past, end);
  }

  decodeStep(token: number, past: KvCache, ropeDelta: number): Promise<StepResult> {
    return decodeStep(this.steps, token, past, ropeDelta);
  }

  /** Greedy generation: at most maxNewTokens tokens, stopping after an EOS token. */
  async generate(request: GenerateRequest): Promise<number[]> {
    if (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1) {
      throw new EngineInputError(
        "bad_input_ids",
        `maxNewTokens must be a positive integer, got ${request.maxNewTokens}`,
      );
    }
    const grids = request.imageGridThw ?? [];
    const prompt = this.prepare(request.inputIds, grids);
    const images = grids.length > 0 ? await this.encodeImages(request.pixelValues ?? new Float32Array(0), grids) : [];
    const eos = new Set(request.eosTokenIds ?? this.eosTokenIds);
    const tokens: number[] = [];
    const loop = this.decodeLoop(prompt, await this.prefill(prompt, images));
    try {
      for (;;) {
        const token = argmax(loop.logits);
        tokens.push(token);
        if (tokens.length >= request.maxNewTokens || eos.has(token)) return tokens;
        await loop.feed(token);
      }
    } finally {
      loop.release();
    }
  }

  /** The decoding loop after `prefill` returned `first` for `prompt` (decodeLoop.ts); it owns `first`'s KV. */
  decodeLoop(prompt: PreparedPrompt, first: StepResult): DecodeLoop {
    return new DecodeLoop(this, prompt.positions.ropeDelta, first, this.kvPadding);
  }

  async release(): Promise<void> {
    await this.kvOps.release();
    await this.featureOps.release();
    await this.bundle.release();
  }
}

/** Opens a bundle folder as an Engine (the three sessions on the chosen execution provider). */
export function loadBundle(dir: string, opts: EngineOptions = {}): Promise<Engine> {
  return Engine.load(dir, opts);
}
