/**
 * Qwen3-VL model configuration, parsed from a Hugging Face checkpoint's config.json (field names as in transformers'
 * configuration_qwen3_vl.py: text settings under `text_config`, vision settings under `vision_config`) into camelCase.
 *
 * Two RoPE spellings exist in the wild and both are accepted:
 * - transformers ≥ 5: `text_config.rope_parameters = {rope_type, rope_theta, mrope_section, mrope_interleaved}`;
 * - released checkpoints (transformers 4.57): `text_config.rope_scaling = {rope_type, mrope_section,
 *   mrope_interleaved}` plus `text_config.rope_theta`.
 * transformers' Qwen3-VL text rotary embedding always interleaves the M-RoPE sections and defaults the section split
 * to [24, 20, 20], so those are the defaults here too.
 */

import { z } from "zod";

export interface TextConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  /** May differ from hiddenSize / numAttentionHeads. */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Rotary frequency pairs given to the temporal, height and width positions; sums to headDim / 2. */
  mropeSection: number[];
  mropeInterleaved: boolean;
  vocabSize: number;
  maxPositionEmbeddings: number;
  hiddenAct: string;
}

export interface VisionConfig {
  depth: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  patchSize: number;
  temporalPatchSize: number;
  spatialMergeSize: number;
  inChannels: number;
  outHiddenSize: number;
  numPositionEmbeddings: number;
  /** Vision blocks whose outputs feed the DeepStack mergers, in order; empty when the model has no DeepStack. */
  deepstackVisualIndexes: number[];
  hiddenAct: string;
}

export interface Qwen3VLConfig {
  text: TextConfig;
  vision: VisionConfig;
  tieWordEmbeddings: boolean;
  imageTokenId: number;
  videoTokenId: number;
  visionStartTokenId: number;
  visionEndTokenId: number;
}

export class ConfigError extends Error {
  readonly code = "bad_config";
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const positiveInt = z.number().int().positive();

const ropeFields = {
  rope_type: z.string().optional(),
  rope_theta: z.number().positive().optional(),
  mrope_section: z.array(positiveInt).length(3).optional(),
  mrope_interleaved: z.boolean().optional(),
};

const textSchema = z.object({
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.optional(),
  head_dim: positiveInt.nullish(),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().optional(),
  rope_parameters: z.object(ropeFields).nullish(),
  rope_scaling: z.object(ropeFields).nullish(),
  vocab_size: positiveInt.default(151936),
  max_position_embeddings: positiveInt.default(128000),
  hidden_act: z.string().default("silu"),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().default(false),
});

const visionSchema = z.object({
  depth: positiveInt,
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_heads: positiveInt,
  patch_size: positiveInt.default(16),
  temporal_patch_size: positiveInt.default(2),
  spatial_merge_size: positiveInt.default(2),
  in_channels: positiveInt.default(3),
  out_hidden_size: positiveInt,
  num_position_embeddings: positiveInt.default(2304),
  deepstack_visual_indexes: z.array(z.number().int().nonnegative()).default([]),
  hidden_act: z.string().default("gelu_pytorch_tanh"),
});

const configSchema = z.object({
  model_type: z.string().optional(),
  text_config: textSchema,
  vision_config: visionSchema,
  tie_word_embeddings: z.boolean().optional(),
  image_token_id: positiveInt.default(151655),
  video_token_id: positiveInt.default(151656),
  vision_start_token_id: positiveInt.default(151652),
  vision_end_token_id: positiveInt.default(151653),
});

export function parseQwen3VLConfig(json: unknown): Qwen3VLConfig {
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ConfigError(`not a Qwen3-VL config.json: ${issues}`);
  }
  const raw = parsed.data;
  if (raw.model_type !== undefined && raw.model_type !== "qwen3_vl") {
    throw new ConfigError(`model_type is "${raw.model_type}"; only "qwen3_vl" is supported`);
  }
  const t = raw.text_config;
  const v = raw.vision_config;
  if (t.attention_bias) throw new ConfigError("text_config.attention_bias = true is not supported (Qwen3-VL has none)");

  const rope = t.rope_parameters ?? t.rope_scaling ?? {};
  const ropeType = rope.rope_type ?? "default";
  if (ropeType !== "default")
    throw new ConfigError(`rope_type "${ropeType}" is not supported; Qwen3-VL uses "default"`);
  const ropeTheta = rope.rope_theta ?? t.rope_theta;
  if (ropeTheta === undefined)
    throw new ConfigError("text_config has no rope_theta (neither in rope_parameters nor top level)");

  const headDim = t.head_dim ?? t.hidden_size / t.num_attention_heads;
  if (!Number.isInteger(headDim))
    throw new ConfigError("text_config.head_dim is missing and hidden_size is not divisible by heads");
  const numKeyValueHeads = t.num_key_value_heads ?? t.num_attention_heads;
  if (t.num_attention_heads % numKeyValueHeads !== 0) {
    throw new ConfigError(
      `num_attention_heads ${t.num_attention_heads} is not a multiple of num_key_value_heads ${numKeyValueHeads}`,
    );
  }
  const mropeSection = rope.mrope_section ?? [24, 20, 20];
  if (mropeSection.reduce((a, b) => a + b, 0) !== headDim / 2) {
    throw new ConfigError(`mrope_section [${mropeSection.join(", ")}] must sum to head_dim / 2 = ${headDim / 2}`);
  }
  if (v.hidden_size % v.num_heads !== 0)
    throw new ConfigError("vision_config.hidden_size is not divisible by num_heads");
  for (const index of v.deepstack_visual_indexes) {
    if (index >= v.depth)
      throw new ConfigError(`deepstack_visual_indexes entry ${index} is not below depth ${v.depth}`);
  }

  return {
    text: {
      hiddenSize: t.hidden_size,
      intermediateSize: t.intermediate_size,
      numHiddenLayers: t.num_hidden_layers,
      numAttentionHeads: t.num_attention_heads,
      numKeyValueHeads,
      headDim,
      rmsNormEps: t.rms_norm_eps,
      ropeTheta,
      mropeSection: [...mropeSection],
      mropeInterleaved: rope.mrope_interleaved ?? true,
      vocabSize: t.vocab_size,
      maxPositionEmbeddings: t.max_position_embeddings,
      hiddenAct: t.hidden_act,
    },
    vision: {
      depth: v.depth,
      hiddenSize: v.hidden_size,
      intermediateSize: v.intermediate_size,
      numHeads: v.num_heads,
      patchSize: v.patch_size,
      temporalPatchSize: v.temporal_patch_size,
      spatialMergeSize: v.spatial_merge_size,
      inChannels: v.in_channels,
      outHiddenSize: v.out_hidden_size,
      numPositionEmbeddings: v.num_position_embeddings,
      deepstackVisualIndexes: [...v.deepstack_visual_indexes],
      hiddenAct: v.hidden_act,
    },
    // The top-level flag is what transformers' Qwen3VLForConditionalGeneration ties by; some exports only set it
    // inside text_config.
    tieWordEmbeddings: raw.tie_word_embeddings ?? t.tie_word_embeddings ?? false,
    imageTokenId: raw.image_token_id,
    videoTokenId: raw.video_token_id,
    visionStartTokenId: raw.vision_start_token_id,
    visionEndTokenId: raw.vision_end_token_id,
  };
}
