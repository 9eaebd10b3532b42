/**
 * Image features in device memory, with small ONNX graphs on the engine's own provider (as kvOps.ts does for KV):
 * - `prefillInputs` builds the decoder's `inputs_embeds` [1, S, H] and `deepstack_visual_embeds` [nDeepstack, V, H]
 *   on the device from the prompt's text rows (host memory, from embed_tokens on the CPU) and the encoder's outputs
 *   left on the device, so an image encoded for this request never crosses host memory before the first token;
 * - `download` reads an image's device features back as the host ImageFeatures L1 stores — exactly the values the
 *   host path gives (the encoder's outputs, fp16 widened to fp32 as `hostFloats` does);
 * - `toHost` does that for merged encoder outputs when the vision session left them on the device;
 * - `patchify` cuts a normalised image ([H, W, 3], half the bytes of the patches: the temporal copy is made on the
 *   device) into the encoder's `pixel_values` on the device, in the host patchify's order (lib/images/preprocess
 *   /patchify.ts), so the pixels cross to the device once, as 9.4 MB instead of 19 MB for a 1024×768 image.
 *
 * Graphs: one prefill-inputs graph per number k of device images (rows of a table Concat(text rows, features_0..k−1)
 * gathered by position; DeepStack rows likewise along axis 1 of Concat(host DeepStack rows, deepstack_0..k−1)), one
 * download graph (Identity, outputs on the host). Gather and Concat copy values, so what the decoder reads is
 * bit-for-bit what the host path writes. Sessions: smallGraphSessions.ts.
 */

import * as ort from "onnxruntime-node";
import type { Qwen3VLConfig } from "@/lib/model/config";
import { GraphBuilder, type FloatType } from "@/lib/model/onnx/graphBuilder";
import type { SessionFactory } from "./executionProvider";
import { hostFloats, type DeviceImageFeatures, type ImageFeatures, type VisionOutputs } from "./imageFeatures";
import { SmallGraphSessions } from "./smallGraphSessions";

/** The prefill's inputs from host rows and device images; see `prefillInputs`. */
export interface DevicePrefillInputs {
  /** [R, H] (R ≥ 1) in the decoder's float type: the rows `index` points at below R. */
  readonly textRows: Float32Array | Uint16Array;
  /** [S] per prompt position: a row of textRows (< R), or R + (offset of device image j) + its feature row. */
  readonly index: BigInt64Array;
  /** k ≥ 1 images, in the order `index` counts them; they stay the caller's. */
  readonly images: readonly DeviceImageFeatures[];
  /** [nDeepstack, M, H] (M ≥ 1) host DeepStack rows; null for a model without DeepStack. */
  readonly deepstackRows: Float32Array | Uint16Array | null;
  /** [V] per visual position: a row of deepstackRows (< M), or M + (offset of device image j) + its feature row. */
  readonly deepstackIndex: BigInt64Array;
}

/** An image's pixel values before patchify (lib/images/preprocess/patchify.ts `pixelValueImage`). */
export interface PixelImage {
  /** [height, width, 3] f32, HWC. */
  readonly values: Float32Array;
  readonly height: number;
  readonly width: number;
}

/** Decoder inputs the caller owns (device tensors where the provider keeps outputs there); free with `dispose`. */
export interface PrefillTensors {
  readonly embeds: ort.Tensor;
  readonly deepstack: ort.Tensor | null;
}

export class FeatureOps {
  private readonly sessions: SmallGraphSessions;
  private readonly hidden: number;
  private readonly deepstackLayers: number;
  private readonly vision: Qwen3VLConfig["vision"];

  constructor(
    factory: SessionFactory,
    cfg: Qwen3VLConfig,
    private readonly floatType: FloatType,
  ) {
    this.sessions = new SmallGraphSessions(factory);
    this.hidden = cfg.text.hiddenSize;
    this.deepstackLayers = cfg.vision.deepstackVisualIndexes.length;
    this.vision = cfg.vision;
  }

  /**
   * Opens the graphs a cold request on the device path runs (patchify, prefill inputs for one image, download), so
   * the first request after start-up does not wait for their sessions, and a provider that cannot run them fails at
   * load.
   */
  async prepare(): Promise<void> {
    await Promise.all([
      this.patchifySession(),
      this.prefillInputsSession(1),
      this.downloadSession(this.deepstackLayers > 0),
    ]);
  }

  /** `pixel_values` [patches, 3·T·P·P] of `image` (sides multiples of P·M), owned by the caller. */
  async patchify(image: PixelImage): Promise<ort.Tensor> {
    const { patchSize: P, spatialMergeSize: M } = this.vision;
    const { height, width } = image;
    if (height % (P * M) !== 0 || width % (P * M) !== 0 || image.values.length !== height * width * 3) {
      throw new RangeError(`featureOps: a ${width}×${height} image does not cut into ${P * M}-pixel windows`);
    }
    const windows = [height / (P * M), M, P, width / (P * M), M, P, 3];
    const session = await this.patchifySession();
    const outputs = await session.run({
      image: new ort.Tensor("float32", image.values, [height, width, 3]),
      windows: new ort.Tensor("int64", BigInt64Array.from(windows, BigInt), [7]),
    });
    return outputs.pixel_values as ort.Tensor;
  }

  async prefillInputs(input: DevicePrefillInputs): Promise<PrefillTensors> {
    const k = input.images.length;
    if (k === 0) throw new RangeError("featureOps: prefillInputs without device images");
    const rows = input.textRows.length / this.hidden;
    const feeds: Record<string, ort.Tensor> = {
      text_rows: new ort.Tensor(this.floatType, input.textRows, [rows, this.hidden]),
      index: new ort.Tensor("int64", input.index, [input.index.length]),
    };
    input.images.forEach((image, j) => {
      feeds[`features${j}`] = image.features;
      if (image.deepstack) feeds[`deepstack${j}`] = image.deepstack;
    });
    if (this.deepstackLayers > 0) {
      if (input.deepstackRows === null || input.images.some((image) => image.deepstack === null))
        throw new RangeError("featureOps: DeepStack rows missing for a model with DeepStack");
      const m = input.deepstackRows.length / (this.deepstackLayers * this.hidden);
      feeds.deepstack_rows = new ort.Tensor(this.floatType, input.deepstackRows, [
        this.deepstackLayers,
        m,
        this.hidden,
      ]);
      feeds.deepstack_index = new ort.Tensor("int64", input.deepstackIndex, [input.deepstackIndex.length]);
    }
    const session = await this.prefillInputsSession(k);
    const outputs = await session.run(feeds);
    return {
      embeds: outputs.inputs_embeds as ort.Tensor,
      deepstack: this.deepstackLayers > 0 ? (outputs.deepstack_visual_embeds as ort.Tensor) : null,
    };
  }

  /** The host ImageFeatures of `image` (which stays the caller's), read through the download graph. */
  async download(image: DeviceImageFeatures): Promise<ImageFeatures> {
    const host = await this.read(image);
    return { grid: image.grid, tokens: image.tokens, hidden: image.hidden, ...host };
  }

  /**
   * Host copies of merged encoder outputs: their data where they are in host memory, else through the download graph;
   * device tensors are disposed either way.
   */
  async toHost(outputs: VisionOutputs): Promise<{ features: Float32Array; deepstack: Float32Array | null }> {
    if (outputs.features.location !== "gpu-buffer") {
      return { features: hostFloats(outputs.features), deepstack: outputs.deepstack && hostFloats(outputs.deepstack) };
    }
    try {
      return await this.read(outputs);
    } finally {
      outputs.features.dispose();
      outputs.deepstack?.dispose();
    }
  }

  release(): Promise<void> {
    return this.sessions.release();
  }

  private async read(outputs: VisionOutputs): Promise<{ features: Float32Array; deepstack: Float32Array | null }> {
    const withDeepstack = outputs.deepstack !== null;
    const session = await this.downloadSession(withDeepstack);
    const feeds: Record<string, ort.Tensor> = { features: outputs.features };
    if (outputs.deepstack) feeds.deepstack = outputs.deepstack;
    const host = await session.run(feeds);
    return {
      features: hostFloats(host.features_out as ort.Tensor),
      deepstack: withDeepstack ? hostFloats(host.deepstack_out as ort.Tensor) : null,
    };
  }

  private patchifySession(): Promise<ort.InferenceSession> {
    const { patchSize, temporalPatchSize } = this.vision;
    return this.sessions.get("patchify", () => patchifyGraph(patchSize, temporalPatchSize), true);
  }

  private prefillInputsSession(k: number): Promise<ort.InferenceSession> {
    const build = () => prefillInputsGraph(k, this.deepstackLayers > 0, this.floatType);
    return this.sessions.get(`prefill${k}`, build, true);
  }

  /** Outputs on the host: the graph exists to bring device features there. */
  private downloadSession(deepstack: boolean): Promise<ort.InferenceSession> {
    const build = () => downloadGraph(deepstack, this.floatType);
    return this.sessions.get(deepstack ? "download+deepstack" : "download", build, false);
  }
}

/**
 * Inputs text_rows [R, H], index [S], features{j} [T_j, H] (j < k) and, with DeepStack, deepstack_rows [D, M, H],
 * deepstack{j} [D, T_j, H], deepstack_index [V]; outputs inputs_embeds [1, S, H] and deepstack_visual_embeds [D, V, H].
 */
export function prefillInputsGraph(k: number, deepstack: boolean, floatType: FloatType): GraphBuilder {
  const g = new GraphBuilder({ name: `prefill_inputs_${k}`, floatType });
  const features = [g.input("text_rows", floatType, ["rows", "hidden"])];
  for (let j = 0; j < k; j++) features.push(g.input(`features${j}`, floatType, [`tokens${j}`, "hidden"]));
  const index = g.input("index", "int64", ["seq"]);
  const rows = g.op1("Gather", [g.op1("Concat", features, { axis: 0 }), index], { axis: 0 });
  g.output(g.op1("Unsqueeze", [rows, g.constInt64([0])]), "inputs_embeds", floatType, [1, "seq", "hidden"]);
  if (deepstack) {
    const layers = [g.input("deepstack_rows", floatType, ["layers", "host_visual", "hidden"])];
    for (let j = 0; j < k; j++) layers.push(g.input(`deepstack${j}`, floatType, ["layers", `tokens${j}`, "hidden"]));
    const visual = g.input("deepstack_index", "int64", ["visual"]);
    const gathered = g.op1("Gather", [g.op1("Concat", layers, { axis: 1 }), visual], { axis: 1 });
    g.output(gathered, "deepstack_visual_embeds", floatType, ["layers", "visual", "hidden"]);
  }
  return g;
}

/**
 * Inputs image [H, W, 3] f32 and windows [7] = [H/(P·M), M, P, W/(P·M), M, P, 3]; output pixel_values [patches,
 * 3·T·P·P]: rows are the merge windows' patches in raster order (hb, wb, hm, wm), columns channel, temporal copy, then
 * the P×P pixels — patchify.ts's order (the reference's reshape + permute(0, 3, 6, 4, 7, 2, 1, 5, 8)).
 */
export function patchifyGraph(patchSize: number, temporal: number): GraphBuilder {
  const g = new GraphBuilder({ name: "patchify", floatType: "float32" });
  const image = g.input("image", "float32", ["height", "width", 3]);
  const windows = g.input("windows", "int64", [7]);
  // [hb, hm, py, wb, wm, px, c] → [hb, wb, hm, wm, c, py, px]
  const patches = g.op1("Transpose", [g.op1("Reshape", [image, windows])], { perm: [0, 3, 1, 4, 6, 2, 5] });
  const area = patchSize * patchSize;
  const perChannel = g.op1("Reshape", [patches, g.constInt64([-1, 3, 1, area])]);
  const repeated = g.op1("Expand", [perChannel, g.constInt64([1, 1, temporal, 1])]);
  const rows = g.op1("Reshape", [repeated, g.constInt64([-1, 3 * temporal * area])]);
  g.output(rows, "pixel_values", "float32", ["patches", 3 * temporal * area]);
  return g;
}

/** Inputs features [T, H] (and deepstack [D, T, H]); the same values as outputs features_out (deepstack_out). */
export function downloadGraph(deepstack: boolean, floatType: FloatType): GraphBuilder {
  const g = new GraphBuilder({ name: "features_download", floatType });
  const features = g.input("features", floatType, ["tokens", "hidden"]);
  g.output(g.op1("Identity", [features]), "features_out", floatType, ["tokens", "hidden"]);
  if (deepstack) {
    const layers = g.input("deepstack", floatType, ["layers", "tokens", "hidden"]);
    g.output(g.op1("Identity", [layers]), "deepstack_out", floatType, ["layers", "tokens", "hidden"]);
  }
  return g;
}
