/**
 * Test support for the vision graph: a seeded random vision checkpoint held in memory (transformers' tensor names and
 * shapes for a given VisionConfig), a graph built from it and written to disk, and a real onnxruntime-node session.
 */

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import type { Qwen3VLConfig, VisionConfig } from "@/lib/model/config";
import type { WeightSource } from "@/lib/model/checkpoint/weightSource";
import { GraphBuilder, type FloatType } from "@/lib/model/onnx/graphBuilder";
import { writeModel } from "@/lib/model/onnx/writeModel";
import { createRng } from "@/lib/model/sampling/prng";
import { buildVisionEncoderGraph, type VisionEncoderGraphOptions } from "@/lib/model/graphs/visionEncoder";

/** Every vision tensor of a Qwen3-VL checkpoint with its stored shape (Linear [out, in], Conv3d [out, C, T, P, P]). */
export function visionCheckpointShapes(v: VisionConfig): Map<string, number[]> {
  const D = v.hiddenSize;
  const merged = D * v.spatialMergeSize ** 2;
  const shapes = new Map<string, number[]>([
    ["model.visual.patch_embed.proj.weight", [D, v.inChannels, v.temporalPatchSize, v.patchSize, v.patchSize]],
    ["model.visual.patch_embed.proj.bias", [D]],
    ["model.visual.pos_embed.weight", [v.numPositionEmbeddings, D]],
  ]);
  const linear = (module: string, inF: number, outF: number) => {
    shapes.set(`${module}.weight`, [outF, inF]);
    shapes.set(`${module}.bias`, [outF]);
  };
  const norm = (module: string, n: number) => {
    shapes.set(`${module}.weight`, [n]);
    shapes.set(`${module}.bias`, [n]);
  };
  for (let i = 0; i < v.depth; i++) {
    const p = `model.visual.blocks.${i}`;
    norm(`${p}.norm1`, D);
    norm(`${p}.norm2`, D);
    linear(`${p}.attn.qkv`, D, 3 * D);
    linear(`${p}.attn.proj`, D, D);
    linear(`${p}.mlp.linear_fc1`, D, v.intermediateSize);
    linear(`${p}.mlp.linear_fc2`, v.intermediateSize, D);
  }
  const merger = (p: string, normSize: number) => {
    norm(`${p}.norm`, normSize);
    linear(`${p}.linear_fc1`, merged, merged);
    linear(`${p}.linear_fc2`, merged, v.outHiddenSize);
  };
  merger("model.visual.merger", D);
  v.deepstackVisualIndexes.forEach((_, j) => merger(`model.visual.deepstack_merger_list.${j}`, merged));
  return shapes;
}

/** Seeded random weights: uniform in ±scale, norm scales around 1, so activations stay O(1) through the blocks. */
export function randomVisionWeights(v: VisionConfig, seed: number): Map<string, Float32Array> {
  const rng = createRng(seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of visionCheckpointShapes(v)) {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const fanIn = shape.length >= 2 ? values.length / shape[0] : 1;
    const isNormScale = /norm\d?\.weight$/.test(name);
    const scale = name.endsWith("pos_embed.weight") ? 0.5 : isNormScale ? 0.2 : 1 / Math.sqrt(fanIn);
    for (let i = 0; i < values.length; i++) values[i] = (isNormScale ? 1 : 0) + (2 * rng.nextFloat() - 1) * scale;
    out.set(name, values);
  }
  return out;
}

export function inMemoryWeightSource(v: VisionConfig, weights: Map<string, Float32Array>): WeightSource {
  const shapes = visionCheckpointShapes(v);
  const lookup = <T>(map: Map<string, T>, name: string): T => {
    const value = map.get(name);
    if (value === undefined) throw new Error(`no tensor ${name}`);
    return value;
  };
  return {
    has: (name) => shapes.has(name),
    shape: (name) => lookup(shapes, name),
    read: async (name) => lookup(weights, name),
  };
}

/** A Qwen3VLConfig around `vision`; the vision graph reads nothing else. */
export function withVision(vision: VisionConfig): Qwen3VLConfig {
  return {
    text: {
      hiddenSize: vision.outHiddenSize,
      intermediateSize: 64,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      numKeyValueHeads: 1,
      headDim: 16,
      rmsNormEps: 1e-6,
      ropeTheta: 5e6,
      mropeSection: [4, 2, 2],
      mropeInterleaved: true,
      vocabSize: 64,
      maxPositionEmbeddings: 1024,
      hiddenAct: "silu",
    },
    vision,
    tieWordEmbeddings: true,
    imageTokenId: 60,
    videoTokenId: 61,
    visionStartTokenId: 62,
    visionEndTokenId: 63,
  };
}

export type Grid = [number, number, number];

export interface VisionSession {
  readonly session: ort.InferenceSession;
  run(
    pixelValues: Float32Array,
    grids: Grid[],
  ): Promise<{ imageFeatures: Float32Array; featureDims: readonly number[]; deepstack?: ort.Tensor }>;
}

export async function buildVisionSession(
  cfg: Qwen3VLConfig,
  source: WeightSource,
  opts: {
    floatType?: FloatType;
    graph?: VisionEncoderGraphOptions;
    sessionOptions?: ort.InferenceSession.SessionOptions;
  } = {},
): Promise<VisionSession> {
  const g = new GraphBuilder({ name: "vision_encoder", floatType: opts.floatType ?? "float32" });
  buildVisionEncoderGraph(g, cfg, opts.graph);
  const dir = await mkdtemp(path.join(tmpdir(), "vlcache-vision-"));
  const file = path.join(dir, "vision_encoder.onnx");
  await writeModel(g, file, source);
  const session = await ort.InferenceSession.create(file, opts.sessionOptions);
  return {
    session,
    async run(pixelValues, grids) {
      const patches = grids.reduce((sum, [t, h, w]) => sum + t * h * w, 0);
      const out = await session.run({
        pixel_values: new ort.Tensor("float32", pixelValues, [patches, pixelValues.length / patches]),
        image_grid_thw: new ort.Tensor("int64", BigInt64Array.from(grids.flat(), BigInt), [grids.length, 3]),
      });
      const features = out.image_features;
      return {
        imageFeatures: toFloat32(features),
        featureDims: features.dims,
        deepstack: out.deepstack_features,
      };
    },
  };
}

export function toFloat32(t: ort.Tensor): Float32Array {
  if (t.type === "float32") return t.data as Float32Array;
  if (t.type === "float16") return Float32Array.from(t.data as Uint16Array, halfToFloat);
  throw new Error(`unexpected tensor type ${t.type}`);
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

/** Deterministic pixel rows in [-1, 1] (the processor's normalised range) for `grids`. */
export function syntheticPixels(grids: Grid[], patchFeatures: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const patches = grids.reduce((sum, [t, h, w]) => sum + t * h * w, 0);
  return Float32Array.from({ length: patches * patchFeatures }, () => 2 * rng.nextFloat() - 1);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
