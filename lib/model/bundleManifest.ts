/**
 * vlcache.json, a bundle's manifest (the ▶ bundle contract): the one schema for it, written by the converter
 * (convert.ts), read and validated by the engine when it opens a bundle (engine/bundle.ts), and read through the
 * engine by the server for the served model's name and age (server/modelRuntime.ts).
 *
 * Fields a converter of an earlier version did not write are optional here, so older bundles still open;
 * `WrittenBundleManifest` is what this converter writes.
 */

import { z } from "zod";
import type { Float32Compute, FloatType } from "@/lib/model/onnx/graphBuilder";
import { ROTARY_KINDS } from "@/lib/model/graphs/rotaryEmbedding";

export const bundleSourceSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("checkpoint"), path: z.string() }),
  z.object({ kind: z.literal("random"), preset: z.string(), seed: z.number() }),
]);
/** Where the weights came from: a checkpoint folder, or seeded random weights of a preset or config.json path. */
export type BundleSource = z.infer<typeof bundleSourceSchema>;

const float32ComputeSchema = z.object({
  norms: z.boolean(),
  attention: z.boolean(),
  matmuls: z.boolean(),
}) satisfies z.ZodType<Float32Compute>;

export const bundleManifestSchema = z.object({
  converterVersion: z.union([z.string(), z.number()]),
  /** SHA-256 over the checkpoint's tensors (convert.ts `fingerprintWeights`). */
  sourceFingerprint: z.string().min(1),
  dtype: z.enum(["fp32", "fp16"]),
  /** fp16 bundles: which parts compute in float32 (graphBuilder.ts says why). */
  float32Compute: float32ComputeSchema.optional(),
  /**
   * The rotary embedding's form in the decoder and vision graphs (graphs/rotaryEmbedding.ts); converters before 1.2.0
   * wrote none and built the plain form.
   */
  rotary: z.enum(ROTARY_KINDS).optional(),
  createdAt: z.string().optional(),
  source: bundleSourceSchema.optional(),
  graphs: z.record(z.string(), z.object({ bytes: z.number(), externalData: z.boolean() })).optional(),
  /**
   * Random-weight bundles: the image-size bounds written to preprocessor_config.json (pixels after resizing) and where
   * they came from — given as an option, or the preset's (for a config.json path, the closest preset's).
   */
  imageBounds: z
    .object({
      minPixels: z.number().int().positive(),
      maxPixels: z.number().int().positive(),
      from: z.discriminatedUnion("kind", [
        z.object({ kind: z.literal("option") }),
        z.object({ kind: z.literal("preset"), preset: z.string() }),
      ]),
    })
    .optional(),
});
export type BundleManifest = z.infer<typeof bundleManifestSchema>;
export type BundleDtype = BundleManifest["dtype"];

/** The ONNX float type a bundle of `dtype` stores its weights, activations and KV in. */
export function floatTypeOf(dtype: BundleDtype): FloatType {
  return dtype === "fp16" ? "float16" : "float32";
}

export type WrittenBundleManifest = BundleManifest &
  Required<Pick<BundleManifest, "createdAt" | "source" | "graphs" | "rotary">> & { converterVersion: string };
