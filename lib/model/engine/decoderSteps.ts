/**
 * The two decoder steps of generation, kept apart so a cached KV prefix (L2) or cached image features (L1) can be
 * plugged in:
 * - `prefill` runs prompt tokens [past.length, end) on top of a KV cache that covers [0, past.length);
 * - `decodeStep` runs one generated token on top of a KV cache.
 * Both return the logits of their last position and the extended cache; neither mutates its inputs.
 */

import * as ort from "onnxruntime-node";
import type { Qwen3VLConfig } from "@/lib/model/config";
import { imageTokenCount, type ImageGrid } from "@/lib/images/preprocess/imageGrid";
import type { FloatType } from "@/lib/model/onnx/graphBuilder";
import { float32ToFloat16Bits } from "@/lib/model/onnx/float16";
import {
  decodePositions,
  getRopeIndex,
  MropeError,
  slicePositions,
  type MropePositions,
} from "@/lib/model/positions/mrope";
import { timeStage } from "@/lib/stageTimes";
import { EngineInputError } from "./errors";
import type { FeatureOps } from "./featureOps";
import {
  isDeviceImageFeatures,
  type DeviceImageFeatures,
  type ImageFeatures,
  type PrefillImage,
} from "./imageFeatures";
import { kvCacheFromOutputs, kvCapacity, type KvCache } from "./kvCache";

export interface DecoderSessions {
  readonly embedTokens: ort.InferenceSession;
  readonly decoder: ort.InferenceSession;
  readonly config: Qwen3VLConfig;
  readonly floatType: FloatType;
  readonly deepstack: boolean;
  /** Puts device image features into the prefill's inputs; needed only for prefills given DeviceImageFeatures. */
  readonly featureOps?: FeatureOps;
}

/**
 * A prompt ready for (possibly partial) prefill: its M-RoPE positions and, for each of its image tokens, which image
 * and which feature row it takes (image tokens are filled in order, as transformers' masked_scatter does).
 */
export interface PreparedPrompt {
  readonly inputIds: readonly number[];
  readonly grids: readonly ImageGrid[];
  readonly positions: MropePositions;
  /** Per position: image index owning it, or −1 for text. */
  readonly imageOf: Int32Array;
  /** Per position: row inside that image's features (meaningless for text). */
  readonly rowOf: Int32Array;
}

export interface StepResult {
  /** [V] logits of the last position run. */
  readonly logits: Float32Array;
  readonly kv: KvCache;
}

export function preparePrompt(
  cfg: Qwen3VLConfig,
  inputIds: readonly number[],
  grids: readonly ImageGrid[],
): PreparedPrompt {
  if (inputIds.length === 0 || inputIds.some((id) => !Number.isInteger(id) || id < 0 || id >= cfg.text.vocabSize)) {
    throw new EngineInputError(
      "bad_input_ids",
      `input ids must be a non-empty list of integers in [0, ${cfg.text.vocabSize})`,
    );
  }
  let positions: MropePositions;
  try {
    positions = getRopeIndex(inputIds, grids, cfg, cfg.vision.spatialMergeSize);
  } catch (error) {
    if (error instanceof MropeError) {
      throw new EngineInputError(error.code === "bad_grid" ? "bad_image_grid" : "image_tokens_mismatch", error.message);
    }
    throw error;
  }
  const counts = grids.map((g) => imageTokenCount(g, cfg.vision.spatialMergeSize));
  const imageOf = new Int32Array(inputIds.length).fill(-1);
  const rowOf = new Int32Array(inputIds.length);
  let image = 0;
  let row = 0;
  for (let p = 0; p < inputIds.length; p++) {
    if (inputIds[p] !== cfg.imageTokenId) continue;
    while (image < counts.length && row === counts[image]) {
      image++;
      row = 0;
    }
    if (image === counts.length) break;
    imageOf[p] = image;
    rowOf[p] = row++;
  }
  const imageTokens = inputIds.reduce((n, id) => n + (id === cfg.imageTokenId ? 1 : 0), 0);
  const expected = counts.reduce((a, b) => a + b, 0);
  if (imageTokens !== expected) {
    throw new EngineInputError(
      "image_tokens_mismatch",
      `the prompt has ${imageTokens} image tokens, its images need ${expected}`,
    );
  }
  return { inputIds, grids, positions, imageOf, rowOf };
}

/** Writes fp32 `values` into row `row` of an [N, H] buffer of the decoder's float type. */
function writeRow(target: Float32Array | Uint16Array, row: number, values: Float32Array, hidden: number): void {
  if (target instanceof Float32Array) {
    target.set(values, row * hidden);
    return;
  }
  for (let i = 0; i < hidden; i++) target[row * hidden + i] = float32ToFloat16Bits(values[i]);
}

function floatArray(floatType: FloatType, length: number): Float32Array | Uint16Array {
  return floatType === "float16" ? new Uint16Array(length) : new Float32Array(length);
}

async function embed(s: DecoderSessions, ids: readonly number[]): Promise<ort.Tensor> {
  const out = await s.embedTokens.run({
    input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]),
  });
  return out.inputs_embeds as ort.Tensor;
}

/**
 * The last position's [V] logits: a view of the output, not a copy (0.6 MB a token for Qwen3-VL). The runs pass
 * num_logits_to_keep 1, so the view keeps nothing else alive, and no one writes to the output.
 */
function lastLogits(outputs: ort.InferenceSession.OnnxValueMapType): Float32Array {
  const logits = outputs.logits as ort.Tensor;
  const vocab = logits.dims[2];
  const data = logits.data as Float32Array;
  return data.subarray(data.length - vocab);
}

interface DecoderFeeds {
  embeds: ort.Tensor; // [1, S, H]
  positionIds: BigInt64Array; // [3, S]
  past: KvCache;
  visualMask: Uint8Array; // [S]
  deepstack: ort.Tensor; // [nDeepstack, nVisual, H]
}

/**
 * One decoder run. A padded past (capacity > length, kvPadding.ts) goes in as it is: attention_mask still covers the
 * T = length + S real positions, from which the graph declares T to GroupQueryAttention (total_sequence_length, and
 * seqlens_k = T − 1), and the op takes the past tensors' length only as their capacity: it reads positions [0, T − S),
 * writes the new ones at [T − S, T) and returns presents of max(T, capacity) positions. So a padded past gives the
 * logits and first T positions of the exact one (tested in tests/integration/kv-padding.test.ts), and a decode loop
 * keeps getting tensors of one size back until the capacity is used up.
 */
async function runDecoder(s: DecoderSessions, f: DecoderFeeds): Promise<StepResult> {
  const seq = f.embeds.dims[1];
  const total = f.past.length + seq;
  const capacity = Math.max(total, kvCapacity(f.past));
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: f.embeds,
    attention_mask: new ort.Tensor("int64", new BigInt64Array(total).fill(1n), [1, total]),
    position_ids: new ort.Tensor("int64", f.positionIds, [3, 1, seq]),
    num_logits_to_keep: new ort.Tensor("int64", BigInt64Array.of(1n), []),
  };
  f.past.layers.forEach((layer, i) => {
    feeds[`past_key_values.${i}.key`] = layer.key;
    feeds[`past_key_values.${i}.value`] = layer.value;
  });
  if (s.deepstack) {
    feeds.visual_pos_masks = new ort.Tensor("bool", f.visualMask, [1, seq]);
    feeds.deepstack_visual_embeds = f.deepstack;
  }
  const outputs = await s.decoder.run(feeds);
  return {
    logits: lastLogits(outputs),
    kv: kvCacheFromOutputs(outputs, s.config.text.numHiddenLayers, total, "present", capacity),
  };
}

/** [nDeepstack, rows, H] of the decoder's float type. */
function deepstackTensor(s: DecoderSessions, rows: Float32Array | Uint16Array, count: number): ort.Tensor {
  const n = s.config.vision.deepstackVisualIndexes.length;
  return new ort.Tensor(s.floatType, rows, [n, count, s.config.text.hiddenSize]);
}

/** One image token of the prefill range: its position in the range, its image and its row of that image. */
interface VisualToken {
  readonly at: number;
  readonly image: PrefillImage;
  readonly row: number;
}

/** The decoder's inputs for a prefill; `dispose` frees what was made for this run only. */
interface PrefillFeeds {
  readonly embeds: ort.Tensor;
  readonly deepstack: ort.Tensor;
  dispose(): void;
}

/**
 * Prefill of prompt tokens [past.length, end): embeds them, puts image features at their image tokens (every image
 * with a token in the range must be given in `images`, indexed like the prompt's images) and DeepStack rows at the
 * same tokens, and runs the decoder with the prompt's M-RoPE positions. Images in host memory are written into the
 * embeddings here; images left on the device (DeviceImageFeatures) are put in place by a small graph on the device
 * (featureOps.ts), with the same values.
 */
export async function prefill(
  s: DecoderSessions,
  prompt: PreparedPrompt,
  images: readonly (PrefillImage | undefined)[],
  past: KvCache,
  end: number = prompt.inputIds.length,
): Promise<StepResult> {
  const from = past.length;
  if (from >= end || end > prompt.inputIds.length) {
    throw new EngineInputError(
      "bad_past",
      `prefill range [${from}, ${end}) is empty or outside the ${prompt.inputIds.length}-token prompt`,
    );
  }
  const visual = visualTokens(s, prompt, images, from, end);
  const ids = prompt.inputIds.slice(from, end);
  const inputs = visual.some(({ image }) => isDeviceImageFeatures(image))
    ? await deviceFeeds(s, ids, visual)
    : await hostFeeds(s, ids, visual);
  const visualMask = new Uint8Array(end - from);
  for (const { at } of visual) visualMask[at] = 1;
  try {
    return await timeStage("prefill_run", () =>
      runDecoder(s, {
        embeds: inputs.embeds,
        positionIds: slicePositions(prompt.positions, from, end),
        past,
        visualMask,
        deepstack: inputs.deepstack,
      }),
    );
  } finally {
    inputs.dispose();
  }
}

/** The image tokens of [from, end), in order, each checked against its image's features. */
function visualTokens(
  s: DecoderSessions,
  prompt: PreparedPrompt,
  images: readonly (PrefillImage | undefined)[],
  from: number,
  end: number,
): VisualToken[] {
  const hidden = s.config.text.hiddenSize;
  const visual: VisualToken[] = [];
  for (let p = from; p < end; p++) {
    const k = prompt.imageOf[p];
    if (k < 0) continue;
    const image = images[k];
    if (!image)
      throw new EngineInputError("image_tokens_mismatch", `features of image ${k} are needed for prompt token ${p}`);
    if (
      image.tokens !== imageTokenCount(prompt.grids[k], s.config.vision.spatialMergeSize) ||
      image.hidden !== hidden
    ) {
      throw new EngineInputError(
        "image_tokens_mismatch",
        `features of image ${k} do not fit its grid or the model's width`,
      );
    }
    if (s.deepstack && !image.deepstack)
      throw new EngineInputError("image_tokens_mismatch", "image features lack the DeepStack rows this model needs");
    visual.push({ at: p - from, image, row: prompt.rowOf[p] });
  }
  return visual;
}

/** Host images only: every token embedded, image rows written over theirs, DeepStack rows gathered on the host. */
async function hostFeeds(
  s: DecoderSessions,
  ids: readonly number[],
  visual: readonly VisualToken[],
): Promise<PrefillFeeds> {
  const embeds = await timeStage("embed", () => embed(s, ids));
  return timeStage("prefill_inputs", async () => {
    writeHostImageRows(s, embeds, visual);
    const rows = hostDeepstackRows(s, visual);
    return { embeds, deepstack: deepstackTensor(s, rows, visual.length), dispose: () => {} };
  });
}

/**
 * Writes each (host) image token's feature row over its text embedding: row `at` of `embeds` [1, rows, H] (every
 * position of the range on the host path; only the rows that go up on the device path, which passes `at` remapped).
 */
function writeHostImageRows(s: DecoderSessions, embeds: ort.Tensor, visual: readonly VisualToken[]): void {
  const hidden = s.config.text.hiddenSize;
  const embedData = embeds.data as Float32Array | Uint16Array;
  for (const { at, image, row } of visual) {
    const host = image as ImageFeatures;
    writeRow(embedData, at, host.features.subarray(row * hidden, (row + 1) * hidden), hidden);
  }
}

/**
 * [nDeepstack, rowsPerLayer, H]: each token's DeepStack rows from its (host) image, layer by layer; rows past
 * visual.length in a layer stay zero.
 */
function hostDeepstackRows(
  s: DecoderSessions,
  visual: readonly VisualToken[],
  rowsPerLayer = visual.length,
): Float32Array | Uint16Array {
  const hidden = s.config.text.hiddenSize;
  const deepstackCount = s.config.vision.deepstackVisualIndexes.length;
  const rows = floatArray(s.floatType, s.deepstack ? deepstackCount * rowsPerLayer * hidden : 0);
  if (s.deepstack) {
    for (let l = 0; l < deepstackCount; l++) {
      visual.forEach(({ image, row }, j) => {
        const host = image as ImageFeatures;
        const from = (l * host.tokens + row) * hidden;
        writeRow(rows, l * rowsPerLayer + j, host.deepstack!.subarray(from, from + hidden), hidden);
      });
    }
  }
  return rows;
}

/**
 * The device images, in order of first use, and for each position of the range that takes a device image's row, that
 * row's index in the concatenation of those images' features.
 */
function deviceRows(visual: readonly VisualToken[]): {
  devices: DeviceImageFeatures[];
  onDevice: Map<number, number>;
} {
  const devices: DeviceImageFeatures[] = [];
  // Each device image's first row: the rows of the images before it.
  const offsets = new Map<DeviceImageFeatures, number>();
  let rows = 0;
  for (const { image } of visual) {
    if (!isDeviceImageFeatures(image) || offsets.has(image)) continue;
    offsets.set(image, rows);
    rows += image.tokens;
    devices.push(image);
  }
  const onDevice = new Map<number, number>();
  for (const { at, image, row } of visual)
    if (isDeviceImageFeatures(image)) onDevice.set(at, offsets.get(image)! + row);
  return { devices, onDevice };
}

/**
 * Some images on the device: the text rows (and host images' rows) go up, the device images' rows are gathered on the
 * device (featureOps.prefillInputs). Only the positions whose rows go up are embedded: the device rows replace every
 * other one (768 of an 800-token prompt about one 1024×768 image), so embed_tokens' output is the table's host part as
 * it is. Table layout and indices: see DevicePrefillInputs.
 */
async function deviceFeeds(
  s: DecoderSessions,
  ids: readonly number[],
  visual: readonly VisualToken[],
): Promise<PrefillFeeds> {
  const seq = ids.length;
  const { devices, onDevice } = deviceRows(visual);
  // Host rows: every position not on the device (at least one row, so no tensor is empty); device positions index
  // past them.
  const textAt: number[] = [];
  for (let p = 0; p < seq; p++) if (!onDevice.has(p)) textAt.push(p);
  if (textAt.length === 0) textAt.push(0);
  const textIds = textAt.map((p) => ids[p]);
  const embeds = await timeStage("embed", () => embed(s, textIds));
  return timeStage("prefill_inputs", async () => {
    // Host images' rows over their tokens' embeddings, at those tokens' rows of the table.
    const rowAt = new Map(textAt.map((p, r) => [p, r]));
    const hostVisual = visual.filter(({ image }) => !isDeviceImageFeatures(image));
    writeHostImageRows(
      s,
      embeds,
      hostVisual.map((token) => ({ ...token, at: rowAt.get(token.at)! })),
    );
    const index = new BigInt64Array(seq);
    let r = 0;
    for (let p = 0; p < seq; p++) {
      const device = onDevice.get(p);
      index[p] = BigInt(device === undefined ? r++ : textAt.length + device);
    }
    // DeepStack: host images' rows first (plus one unused zero row, so the table is never empty), device rows after.
    const m = hostVisual.length + 1;
    const deepstackRows = s.deepstack ? hostDeepstackRows(s, hostVisual, m) : null;
    const deepstackIndex = new BigInt64Array(visual.length);
    let h = 0;
    visual.forEach(({ at }, j) => {
      const device = onDevice.get(at);
      deepstackIndex[j] = BigInt(device === undefined ? h++ : m + device);
    });
    if (s.featureOps === undefined) throw new Error("prefill was given device image features but no featureOps");
    const textRows = embeds.data as Float32Array | Uint16Array;
    const made = await s.featureOps.prefillInputs({ textRows, index, images: devices, deepstackRows, deepstackIndex });
    const deepstack = made.deepstack ?? deepstackTensor(s, floatArray(s.floatType, 0), 0);
    return {
      embeds: made.embeds,
      deepstack,
      dispose: () => {
        made.embeds.dispose();
        made.deepstack?.dispose();
      },
    };
  });
}

/** One generated token at index past.length; its M-RoPE position is that index + the prompt's rope delta. */
export async function decodeStep(
  s: DecoderSessions,
  token: number,
  past: KvCache,
  ropeDelta: number,
): Promise<StepResult> {
  if (!Number.isInteger(token) || token < 0 || token >= s.config.text.vocabSize) {
    throw new EngineInputError("bad_input_ids", `token ${token} is outside [0, ${s.config.text.vocabSize})`);
  }
  return runDecoder(s, {
    embeds: await embed(s, [token]),
    positionIds: decodePositions(past.length, ropeDelta),
    past,
    visualMask: new Uint8Array(1),
    deepstack: deepstackTensor(s, floatArray(s.floatType, 0), 0),
  });
}

/** Index of the largest logit, the first one on ties (torch.argmax). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}
