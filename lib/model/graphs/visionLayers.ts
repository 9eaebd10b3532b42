/**
 * The vision tower's dense pieces, named after their transformers modules: the block MLP (Qwen3VLVisionMLP) and the
 * patch merger (Qwen3VLVisionPatchMerger). Every vision LayerNorm in modeling_qwen3_vl.py has eps 1e-6.
 * Activations are [rows, features] 2-D throughout.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import type { VisionConfig } from "@/lib/model/config";
import { activation, gelu, layerNorm, linear, reshape } from "@/lib/model/onnx/ops";

export const VISION_LAYER_NORM_EPS = 1e-6;

/** nn.LayerNorm(eps=1e-6) of the checkpoint module `module` (`.weight`, `.bias`). */
export function visionLayerNorm(g: GraphBuilder, x: Value, module: string, name: string): Value {
  return layerNorm(g, x, `${module}.weight`, `${module}.bias`, VISION_LAYER_NORM_EPS, name);
}

/** nn.Linear with bias at `module`, its nodes under scope `name`. */
export function visionLinear(g: GraphBuilder, x: Value, module: string, name: string): Value {
  return g.scope(name, () => linear(g, x, `${module}.weight`, `${module}.bias`));
}

/** Qwen3VLVisionMLP: linear_fc2(act(linear_fc1(x))) with the config's hidden_act, [N, hidden] → [N, hidden]. */
export function visionMlp(g: GraphBuilder, x: Value, vision: VisionConfig, module: string): Value {
  return g.scope("mlp", () => {
    const up = visionLinear(g, x, `${module}.linear_fc1`, "linear_fc1");
    return visionLinear(g, activation(g, up, vision.hiddenAct), `${module}.linear_fc2`, "linear_fc2");
  });
}

/**
 * Qwen3VLVisionPatchMerger: [N, hidden] → [N/m², out_hidden]. Each merge window's m² consecutive patches become one row
 * of hidden·m² features. The final merger normalises per patch before that regrouping (use_postshuffle_norm=False);
 * the DeepStack mergers normalise the regrouped rows (use_postshuffle_norm=True). Its activation is nn.GELU() (erf).
 */
export function visionPatchMerger(
  g: GraphBuilder,
  x: Value,
  vision: VisionConfig,
  module: string,
  opts: { postShuffleNorm: boolean },
): Value {
  const merged = vision.hiddenSize * vision.spatialMergeSize * vision.spatialMergeSize;
  const regroup = (t: Value) => reshape(g, t, [-1, merged], "regroup");
  const normed = opts.postShuffleNorm
    ? visionLayerNorm(g, regroup(x), `${module}.norm`, "norm")
    : regroup(visionLayerNorm(g, x, `${module}.norm`, "norm"));
  const hidden = gelu(g, visionLinear(g, normed, `${module}.linear_fc1`, "linear_fc1"), "act");
  return visionLinear(g, hidden, `${module}.linear_fc2`, "linear_fc2");
}
