/**
 * The tensors of a transformers Qwen3VLForConditionalGeneration checkpoint, with their stored shapes, derived from the
 * config alone (mirroring the module tree of modeling_qwen3_vl.py: Linear weights are [out, in], Conv3d is
 * [out, in, T, P, P], norms are 1-D). Used to generate random checkpoints and to validate real ones before converting.
 */

import type { Qwen3VLConfig } from "@/lib/model/config";
import type { WeightSource } from "./weightSource";

export interface TensorShape {
  readonly name: string;
  readonly shape: number[];
}

export const EMBED_TOKENS = "model.language_model.embed_tokens.weight";
export const LM_HEAD = "lm_head.weight";

export function qwen3VLTensorShapes(cfg: Qwen3VLConfig): TensorShape[] {
  const t = cfg.text;
  const v = cfg.vision;
  const out: TensorShape[] = [];
  const add = (name: string, shape: number[]) => out.push({ name, shape });
  const linear = (prefix: string, inFeatures: number, outFeatures: number, bias: boolean) => {
    add(`${prefix}.weight`, [outFeatures, inFeatures]);
    if (bias) add(`${prefix}.bias`, [outFeatures]);
  };
  const layerNorm = (prefix: string, size: number) => {
    add(`${prefix}.weight`, [size]);
    add(`${prefix}.bias`, [size]);
  };

  add(EMBED_TOKENS, [t.vocabSize, t.hiddenSize]);
  for (let i = 0; i < t.numHiddenLayers; i++) {
    const p = `model.language_model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [t.hiddenSize]);
    linear(`${p}.self_attn.q_proj`, t.hiddenSize, t.numAttentionHeads * t.headDim, false);
    linear(`${p}.self_attn.k_proj`, t.hiddenSize, t.numKeyValueHeads * t.headDim, false);
    linear(`${p}.self_attn.v_proj`, t.hiddenSize, t.numKeyValueHeads * t.headDim, false);
    linear(`${p}.self_attn.o_proj`, t.numAttentionHeads * t.headDim, t.hiddenSize, false);
    add(`${p}.self_attn.q_norm.weight`, [t.headDim]);
    add(`${p}.self_attn.k_norm.weight`, [t.headDim]);
    add(`${p}.post_attention_layernorm.weight`, [t.hiddenSize]);
    linear(`${p}.mlp.gate_proj`, t.hiddenSize, t.intermediateSize, false);
    linear(`${p}.mlp.up_proj`, t.hiddenSize, t.intermediateSize, false);
    linear(`${p}.mlp.down_proj`, t.intermediateSize, t.hiddenSize, false);
  }
  add("model.language_model.norm.weight", [t.hiddenSize]);
  // Tied checkpoints omit lm_head; transformers re-ties it to embed_tokens on load.
  if (!cfg.tieWordEmbeddings) add(LM_HEAD, [t.vocabSize, t.hiddenSize]);

  add("model.visual.patch_embed.proj.weight", [
    v.hiddenSize,
    v.inChannels,
    v.temporalPatchSize,
    v.patchSize,
    v.patchSize,
  ]);
  add("model.visual.patch_embed.proj.bias", [v.hiddenSize]);
  add("model.visual.pos_embed.weight", [v.numPositionEmbeddings, v.hiddenSize]);
  for (let i = 0; i < v.depth; i++) {
    const p = `model.visual.blocks.${i}`;
    layerNorm(`${p}.norm1`, v.hiddenSize);
    layerNorm(`${p}.norm2`, v.hiddenSize);
    linear(`${p}.attn.qkv`, v.hiddenSize, 3 * v.hiddenSize, true);
    linear(`${p}.attn.proj`, v.hiddenSize, v.hiddenSize, true);
    linear(`${p}.mlp.linear_fc1`, v.hiddenSize, v.intermediateSize, true);
    linear(`${p}.mlp.linear_fc2`, v.intermediateSize, v.hiddenSize, true);
  }
  // A merger sees spatialMergeSize² neighbouring patches concatenated; the final merger normalises each patch before
  // the concatenation, the DeepStack mergers normalise after it ("postshuffle").
  const merged = v.hiddenSize * v.spatialMergeSize ** 2;
  const merger = (prefix: string, postShuffleNorm: boolean) => {
    layerNorm(`${prefix}.norm`, postShuffleNorm ? merged : v.hiddenSize);
    linear(`${prefix}.linear_fc1`, merged, merged, true);
    linear(`${prefix}.linear_fc2`, merged, v.outHiddenSize, true);
  };
  merger("model.visual.merger", false);
  v.deepstackVisualIndexes.forEach((_, j) => merger(`model.visual.deepstack_merger_list.${j}`, true));
  return out;
}

export class CheckpointMismatchError extends Error {
  readonly code = "checkpoint_mismatch";
  constructor(readonly problems: string[]) {
    super(
      `checkpoint does not match its config.json:\n  ${problems.slice(0, 20).join("\n  ")}${problems.length > 20 ? `\n  … ${problems.length - 20} more` : ""}`,
    );
    this.name = "CheckpointMismatchError";
  }
}

/** Throws a CheckpointMismatchError listing every missing or misshapen tensor the config implies. */
export function validateCheckpointTensors(cfg: Qwen3VLConfig, weights: WeightSource): void {
  const problems: string[] = [];
  for (const { name, shape } of qwen3VLTensorShapes(cfg)) {
    if (!weights.has(name)) {
      problems.push(`missing ${name}`);
      continue;
    }
    const stored = weights.shape(name);
    if (stored.join(",") !== shape.join(","))
      problems.push(`${name} is [${stored.join(", ")}], config implies [${shape.join(", ")}]`);
  }
  if (problems.length > 0) throw new CheckpointMismatchError(problems);
}
