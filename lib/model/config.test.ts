import { describe, expect, it } from "vitest";
import { ConfigError, parseQwen3VLConfig } from "./config";

/** The shape of Qwen/Qwen3-VL-2B-Instruct's config.json as released (transformers 4.57: rope_scaling + rope_theta). */
const released2B = {
  architectures: ["Qwen3VLForConditionalGeneration"],
  model_type: "qwen3_vl",
  image_token_id: 151655,
  video_token_id: 151656,
  vision_start_token_id: 151652,
  vision_end_token_id: 151653,
  tie_word_embeddings: true,
  text_config: {
    model_type: "qwen3_vl_text",
    hidden_size: 2048,
    intermediate_size: 6144,
    num_hidden_layers: 28,
    num_attention_heads: 16,
    num_key_value_heads: 8,
    head_dim: 128,
    hidden_act: "silu",
    max_position_embeddings: 262144,
    rms_norm_eps: 1e-6,
    rope_scaling: { mrope_interleaved: true, mrope_section: [24, 20, 20], rope_type: "default" },
    rope_theta: 5000000,
    tie_word_embeddings: true,
    vocab_size: 151936,
  },
  vision_config: {
    model_type: "qwen3_vl",
    depth: 24,
    hidden_size: 1024,
    hidden_act: "gelu_pytorch_tanh",
    intermediate_size: 4096,
    num_heads: 16,
    in_channels: 3,
    patch_size: 16,
    spatial_merge_size: 2,
    temporal_patch_size: 2,
    out_hidden_size: 2048,
    num_position_embeddings: 2304,
    deepstack_visual_indexes: [5, 11, 17],
  },
};

function withText(patch: Record<string, unknown>) {
  const text: Record<string, unknown> = { ...released2B.text_config, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete text[k];
  return { ...released2B, text_config: text };
}

describe("parseQwen3VLConfig", () => {
  it("reads a released checkpoint config (rope_scaling + rope_theta)", () => {
    const cfg = parseQwen3VLConfig(released2B);
    expect(cfg.text).toEqual({
      hiddenSize: 2048,
      intermediateSize: 6144,
      numHiddenLayers: 28,
      numAttentionHeads: 16,
      numKeyValueHeads: 8,
      headDim: 128,
      rmsNormEps: 1e-6,
      ropeTheta: 5000000,
      mropeSection: [24, 20, 20],
      mropeInterleaved: true,
      vocabSize: 151936,
      maxPositionEmbeddings: 262144,
      hiddenAct: "silu",
    });
    expect(cfg.vision.deepstackVisualIndexes).toEqual([5, 11, 17]);
    expect(cfg.vision.outHiddenSize).toBe(2048);
    expect(cfg.vision.numPositionEmbeddings).toBe(2304);
    expect(cfg.tieWordEmbeddings).toBe(true);
    expect(cfg.imageTokenId).toBe(151655);
    expect(cfg.visionEndTokenId).toBe(151653);
  });

  it("reads the transformers 5 form (rope_parameters carrying rope_theta)", () => {
    const cfg = parseQwen3VLConfig(
      withText({
        rope_scaling: undefined,
        rope_theta: undefined,
        rope_parameters: {
          rope_type: "default",
          rope_theta: 1000000,
          mrope_section: [16, 24, 24],
          mrope_interleaved: false,
        },
      }),
    );
    expect(cfg.text.ropeTheta).toBe(1000000);
    expect(cfg.text.mropeSection).toEqual([16, 24, 24]);
    expect(cfg.text.mropeInterleaved).toBe(false);
  });

  it("derives head_dim and kv heads when absent, and defaults M-RoPE like transformers", () => {
    const cfg = parseQwen3VLConfig(
      withText({
        head_dim: undefined,
        num_key_value_heads: undefined,
        rope_scaling: undefined,
        hidden_size: 2048,
        num_attention_heads: 16,
      }),
    );
    expect(cfg.text.headDim).toBe(128);
    expect(cfg.text.numKeyValueHeads).toBe(16);
    expect(cfg.text.mropeSection).toEqual([24, 20, 20]);
    expect(cfg.text.mropeInterleaved).toBe(true);
  });

  it("falls back to text_config.tie_word_embeddings and defaults to untied", () => {
    const { tie_word_embeddings: _, ...noTop } = released2B;
    expect(parseQwen3VLConfig(noTop).tieWordEmbeddings).toBe(true);
    const untied = { ...noTop, text_config: { ...noTop.text_config, tie_word_embeddings: undefined } };
    expect(parseQwen3VLConfig(untied).tieWordEmbeddings).toBe(false);
  });

  it("reads a config without DeepStack", () => {
    const { deepstack_visual_indexes: _, ...vision } = released2B.vision_config;
    expect(parseQwen3VLConfig({ ...released2B, vision_config: vision }).vision.deepstackVisualIndexes).toEqual([]);
  });

  it.each([
    ["a missing field", withText({ num_hidden_layers: undefined }), /text_config\.num_hidden_layers/],
    ["no rope_theta anywhere", withText({ rope_theta: undefined }), /rope_theta/],
    ["an unsupported rope type", withText({ rope_scaling: { rope_type: "yarn" } }), /rope_type "yarn"/],
    [
      "sections that do not fill head_dim",
      withText({ rope_scaling: { mrope_section: [24, 20, 19] } }),
      /must sum to head_dim/,
    ],
    ["another model type", { ...released2B, model_type: "qwen2_5_vl" }, /only "qwen3_vl"/],
    [
      "a DeepStack index past the depth",
      { ...released2B, vision_config: { ...released2B.vision_config, deepstack_visual_indexes: [24] } },
      /not below depth/,
    ],
    ["not an object", "config", /not a Qwen3-VL config/],
  ])("rejects %s with a ConfigError", (_name, json, message) => {
    expect(() => parseQwen3VLConfig(json)).toThrow(ConfigError);
    expect(() => parseQwen3VLConfig(json)).toThrow(message);
  });
});
