/**
 * Model sizes for `--random PRESET`. Each preset is a transformers-format Qwen3-VL config.json (the released
 * checkpoints' spelling: `rope_scaling` + `rope_theta`, so transformers 4.57 and 5.x both load it) plus the image-size
 * bounds written to preprocessor_config.json.
 *
 * - tiny: for tests. The real vocabulary (151,936) with hidden 8 keeps the fp32 bundle under 25 MB, tokenizer.json
 *   (11 MB) included, although embed_tokens.onnx and the decoder's lm_head each hold a vocab × hidden table.
 *   head_dim 8 ≠ hidden/heads = 4, GQA 2:1, DeepStack on non-adjacent vision blocks [0, 2].
 * - small: for CPU benchmarks. Sized so the vision tower is ≈ 45% of a cold request's FLOPs for a 1024×768 image
 *   (estimateRequestFlops with 3072 patches → 768 image tokens, a 32-token text prompt and 32 new tokens: vision
 *   129.7 GFLOP, prefill 144.2, decode 13.7 → 45.1%; the same estimate gives 54.7% for 2b). Measured once with
 *   onnxruntime-node fp32 on the 2-core development machine under load: vision 478 ms, prefill of 806 tokens 618 ms
 *   (vision = 44% of time to first token), 32 decode steps 1185 ms. Decoding is memory-bound on CPU (each step reads
 *   the 467 MB lm_head), so by wall time the vision share of the whole request is lower (21%) than by FLOPs.
 * - 2b: Qwen/Qwen3-VL-2B-Instruct's dimensions (text 2048 × 28 layers, 16 heads / 8 KV heads of 128, MLP 6144, tied;
 *   vision 1024 × 24 blocks, DeepStack [5, 11, 17]), for timing and memory checks with random weights.
 */

import { parseQwen3VLConfig, type Qwen3VLConfig } from "@/lib/model/config";

export type PresetName = "tiny" | "small" | "2b";
export const PRESET_NAMES: readonly PresetName[] = ["tiny", "small", "2b"];

export interface ImageSizeBounds {
  /** Minimum and maximum pixel count (width × height) after resizing, as Qwen2VLImageProcessor's `size`. */
  shortestEdge: number;
  longestEdge: number;
}

export interface Preset {
  readonly name: PresetName;
  readonly configJson: Record<string, unknown>;
  readonly imageSize: ImageSizeBounds;
}

interface TextDims {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  mropeSection: [number, number, number];
  ropeTheta: number;
  maxPositions: number;
}

interface VisionDims {
  depth: number;
  hidden: number;
  intermediate: number;
  heads: number;
  outHidden: number;
  deepstack: number[];
}

/** A config.json in the released Qwen3-VL checkpoints' format. */
export function qwen3VLConfigJson(
  text: TextDims,
  vision: VisionDims,
  tieWordEmbeddings: boolean,
): Record<string, unknown> {
  return {
    architectures: ["Qwen3VLForConditionalGeneration"],
    model_type: "qwen3_vl",
    image_token_id: 151655,
    video_token_id: 151656,
    vision_start_token_id: 151652,
    vision_end_token_id: 151653,
    tie_word_embeddings: tieWordEmbeddings,
    text_config: {
      model_type: "qwen3_vl_text",
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151645,
      dtype: "bfloat16",
      head_dim: text.headDim,
      hidden_act: "silu",
      hidden_size: text.hidden,
      initializer_range: 0.02,
      intermediate_size: text.intermediate,
      max_position_embeddings: text.maxPositions,
      num_attention_heads: text.heads,
      num_hidden_layers: text.layers,
      num_key_value_heads: text.kvHeads,
      rms_norm_eps: 1e-6,
      rope_scaling: { mrope_interleaved: true, mrope_section: text.mropeSection, rope_type: "default" },
      rope_theta: text.ropeTheta,
      tie_word_embeddings: tieWordEmbeddings,
      use_cache: true,
      vocab_size: 151936,
    },
    vision_config: {
      model_type: "qwen3_vl",
      deepstack_visual_indexes: vision.deepstack,
      depth: vision.depth,
      hidden_act: "gelu_pytorch_tanh",
      hidden_size: vision.hidden,
      in_channels: 3,
      initializer_range: 0.02,
      intermediate_size: vision.intermediate,
      num_heads: vision.heads,
      num_position_embeddings: 2304,
      out_hidden_size: vision.outHidden,
      patch_size: 16,
      spatial_merge_size: 2,
      temporal_patch_size: 2,
    },
    dtype: "bfloat16",
    transformers_version: "4.57.0",
  };
}

const PRESETS: Record<PresetName, Preset> = {
  tiny: {
    name: "tiny",
    configJson: qwen3VLConfigJson(
      {
        hidden: 8,
        intermediate: 32,
        layers: 3,
        heads: 2,
        kvHeads: 1,
        headDim: 8,
        mropeSection: [2, 1, 1],
        ropeTheta: 1_000_000,
        maxPositions: 32768,
      },
      { depth: 4, hidden: 32, intermediate: 64, heads: 2, outHidden: 8, deepstack: [0, 2] },
      true,
    ),
    imageSize: { shortestEdge: 64 * 64, longestEdge: 512 * 512 },
  },
  small: {
    name: "small",
    configJson: qwen3VLConfigJson(
      {
        hidden: 768,
        intermediate: 2304,
        layers: 12,
        heads: 12,
        kvHeads: 4,
        headDim: 64,
        mropeSection: [16, 8, 8],
        ropeTheta: 5_000_000,
        maxPositions: 262144,
      },
      { depth: 8, hidden: 256, intermediate: 1024, heads: 4, outHidden: 768, deepstack: [1, 3, 5] },
      true,
    ),
    imageSize: { shortestEdge: 256 * 256, longestEdge: 1024 * 1024 },
  },
  "2b": {
    name: "2b",
    configJson: qwen3VLConfigJson(
      {
        hidden: 2048,
        intermediate: 6144,
        layers: 28,
        heads: 16,
        kvHeads: 8,
        headDim: 128,
        mropeSection: [24, 20, 20],
        ropeTheta: 5_000_000,
        maxPositions: 262144,
      },
      { depth: 24, hidden: 1024, intermediate: 4096, heads: 16, outHidden: 2048, deepstack: [5, 11, 17] },
      true,
    ),
    // Qwen3-VL's released preprocessor_config.json bounds.
    imageSize: { shortestEdge: 65536, longestEdge: 16777216 },
  },
};

export function getPreset(name: PresetName): Preset {
  return PRESETS[name];
}

/**
 * The preset whose model is most like `config`: the smallest sum of |log ratio| over text width and depth and vision
 * width and depth (a 2× wider model is as far as a 2× narrower one). `--random CONFIG.json` takes its image-size bounds
 * from it unless they are given, so a config sized like 2b gets 2b's bounds, not the test model's.
 */
export function closestPreset(config: Qwen3VLConfig): Preset {
  const dims = (c: Qwen3VLConfig) => [c.text.hiddenSize, c.text.numHiddenLayers, c.vision.hiddenSize, c.vision.depth];
  const target = dims(config);
  const distance = (preset: Preset) =>
    dims(parseQwen3VLConfig(preset.configJson)).reduce(
      (sum, value, i) => sum + Math.abs(Math.log(value / target[i])),
      0,
    );
  return PRESET_NAMES.map(getPreset).reduce((best, preset) => (distance(preset) < distance(best) ? preset : best));
}

export interface RequestShape {
  /** Image size after preprocessing (multiples of patchSize · spatialMergeSize). */
  imageWidth: number;
  imageHeight: number;
  /** Text tokens in the prompt besides the image tokens (template, question). */
  promptTextTokens: number;
  newTokens: number;
}

export interface RequestFlops {
  vision: number;
  prefill: number;
  decode: number;
  visionShare: number;
}

/**
 * Analytic FLOPs (2 per multiply-add) of one cold request: the vision tower on one image, prefill of the prompt, and
 * greedy decoding. Counts matmuls and attention score/value products; norms, activations and RoPE are ignored (a few
 * percent). Vision attention is full over the image's patches; text attention is causal over the growing context.
 */
export function estimateRequestFlops(cfg: Qwen3VLConfig, request: RequestShape): RequestFlops {
  const v = cfg.vision;
  const t = cfg.text;
  const patches = (request.imageWidth / v.patchSize) * (request.imageHeight / v.patchSize);
  const merged = patches / v.spatialMergeSize ** 2;
  const patchInput = v.inChannels * v.temporalPatchSize * v.patchSize ** 2;
  const mergedWidth = v.hiddenSize * v.spatialMergeSize ** 2;

  const blockLinear = 2 * (3 * v.hiddenSize ** 2 + v.hiddenSize ** 2 + 2 * v.hiddenSize * v.intermediateSize);
  const blockAttention = 2 * 2 * patches * v.hiddenSize;
  const mergerFlops = merged * 2 * (mergedWidth ** 2 + mergedWidth * v.outHiddenSize);
  const vision =
    patches * (2 * patchInput * v.hiddenSize + v.depth * (blockLinear + blockAttention)) +
    mergerFlops * (1 + v.deepstackVisualIndexes.length);

  const qWidth = t.numAttentionHeads * t.headDim;
  const kvWidth = t.numKeyValueHeads * t.headDim;
  const perTokenLinear =
    2 *
    t.numHiddenLayers *
    (t.hiddenSize * (qWidth + 2 * kvWidth) + qWidth * t.hiddenSize + 3 * t.hiddenSize * t.intermediateSize);
  const attentionPerContext = 2 * 2 * t.numHiddenLayers * qWidth; // scores + weighted values, per (query, key) pair
  const lmHead = 2 * t.hiddenSize * t.vocabSize;

  const promptTokens = merged + request.promptTextTokens;
  const prefill =
    promptTokens * perTokenLinear + attentionPerContext * ((promptTokens * (promptTokens + 1)) / 2) + lmHead;
  let decode = 0;
  for (let i = 0; i < request.newTokens; i++)
    decode += perTokenLinear + attentionPerContext * (promptTokens + i + 1) + lmHead;
  return { vision, prefill, decode, visionShare: vision / (vision + prefill + decode) };
}
