/**
 * onnx/vision_encoder.onnx: Qwen3-VL's vision tower (transformers: Qwen3VLVisionModel.forward) as one graph that
 * takes any grids and any number of images per call.
 *
 *   pixel_values   [N, C·T·P·P] float32 (patches of every image, concatenated in image order)
 *   image_grid_thw [I, 3] int64 (t, h, w per image, in patches)
 *   → image_features     [N/m², out_hidden]               (merger output, the graph's float type)
 *   → deepstack_features [n_deepstack, N/m², out_hidden]  (only when deepstack_visual_indexes is non-empty)
 *
 * Steps, as in Qwen3VLVisionModel.forward:
 *   patch_embed (Conv3d with stride = kernel ≡ one Linear over the flattened patch) + fast_pos_embed_interpolate
 *   → rot_pos_emb cos/sin → blocks (norm1 → attn → residual, norm2 → mlp → residual), after block k in
 *   deepstack_visual_indexes its output goes through deepstack_merger_list[j] → merger.
 * Everything that depends on the grid (patch positions, interpolation, rotary angles, per-frame attention isolation) is
 * computed from image_grid_thw inside the graph; nothing about the grid is baked in at build time.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import type { Qwen3VLConfig } from "@/lib/model/config";
import { add, cast, concat, unsqueeze, weightAs, weightIn } from "@/lib/model/onnx/ops";
import { buildVisionPatchLayout } from "./visionPatchLayout";
import { interpolateVisionPositionEmbedding } from "./visionPositionEmbedding";
import { buildVisionRotary } from "./visionRotary";
import { DEFAULT_ROTARY, type RotaryKind } from "./rotaryEmbedding";
import { visionAttention } from "./visionAttention";
import { buildVisionFrameBatch } from "./visionFrameBatch";
import { visionLayerNorm, visionMlp, visionPatchMerger } from "./visionLayers";

const VISUAL = "model.visual";

export interface VisionEncoderGraphOptions {
  readonly rotary: RotaryKind;
}

export const DEFAULT_VISION_ENCODER_OPTIONS: VisionEncoderGraphOptions = { rotary: DEFAULT_ROTARY };

export function buildVisionEncoderGraph(
  g: GraphBuilder,
  cfg: Qwen3VLConfig,
  opts: VisionEncoderGraphOptions = DEFAULT_VISION_ENCODER_OPTIONS,
): void {
  const vision = cfg.vision;
  const headDim = vision.hiddenSize / vision.numHeads;
  const patchFeatures = vision.inChannels * vision.temporalPatchSize * vision.patchSize * vision.patchSize;
  const mergedRows = "merged_patches";

  const pixelValues = g.input("pixel_values", "float32", ["patches", patchFeatures]);
  const gridThw = g.input("image_grid_thw", "int64", ["images", 3]);

  g.scope("model/visual", () => {
    const layout = buildVisionPatchLayout(g, gridThw, vision.spatialMergeSize);

    // Qwen3VLVisionPatchEmbed: view(-1, C, T, P, P) then Conv3d(kernel = stride = [T, P, P]) is a dot product of each
    // flattened patch with each flattened kernel, i.e. a Linear whose weight is the kernel [hidden, C, T, P, P] viewed
    // as [hidden, C·T·P·P]: one Gemm (transB) over [N, C·T·P·P] pixel rows, no convolution.
    // pixel_values are fp32: they enter the Gemm in the type matmuls compute in, and the result is the graph's type.
    const embedded = g.scope("patch_embed/proj", () => {
      const type = g.computeType("matmuls");
      const pixels = type === "float32" ? pixelValues : cast(g, pixelValues, type);
      const kernelMatrix = g.weight(`${VISUAL}.patch_embed.proj.weight`, {
        reshape: [vision.hiddenSize, patchFeatures],
      });
      const bias = weightIn(g, `${VISUAL}.patch_embed.proj.bias`, type);
      const out = g.op1("Gemm", [pixels, weightAs(g, kernelMatrix, type), bias], { transB: 1 });
      return type === g.floatType ? out : cast(g, out, g.floatType);
    });
    let hidden = add(g, embedded, interpolateVisionPositionEmbedding(g, layout, vision), "add_pos_embed");

    const rotary = buildVisionRotary(g, opts.rotary, layout, vision.numHeads, headDim);
    const frameBatch = buildVisionFrameBatch(g, layout, vision.numHeads, headDim);

    const deepstack: Value[] = [];
    for (let i = 0; i < vision.depth; i++) {
      const block = `${VISUAL}.blocks.${i}`;
      hidden = g.scope(`blocks.${i}`, () => {
        const normed1 = visionLayerNorm(g, hidden, `${block}.norm1`, "norm1");
        const attended = visionAttention(g, vision, `${block}.attn`, normed1, rotary, frameBatch);
        const afterAttention = add(g, hidden, attended, "attn_residual");
        const normed2 = visionLayerNorm(g, afterAttention, `${block}.norm2`, "norm2");
        return add(g, afterAttention, visionMlp(g, normed2, vision, `${block}.mlp`), "mlp_residual");
      });
      const j = vision.deepstackVisualIndexes.indexOf(i);
      if (j >= 0) {
        const blockOutput = hidden;
        deepstack.push(
          g.scope(`deepstack_merger_list.${j}`, () =>
            visionPatchMerger(g, blockOutput, vision, `${VISUAL}.deepstack_merger_list.${j}`, {
              postShuffleNorm: true,
            }),
          ),
        );
      }
    }

    const features = g.scope("merger", () =>
      visionPatchMerger(g, hidden, vision, `${VISUAL}.merger`, { postShuffleNorm: false }),
    );
    g.output(features, "image_features", g.floatType, [mergedRows, vision.outHiddenSize]);
    if (deepstack.length > 0) {
      const stacked = g.scope("deepstack", () =>
        concat(
          g,
          deepstack.map((d) => unsqueeze(g, d, [0])),
          0,
        ),
      );
      g.output(stacked, "deepstack_features", g.floatType, [deepstack.length, mergedRows, vision.outHiddenSize]);
    }
  });
}
