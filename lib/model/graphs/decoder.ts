/**
 * `decoder_model_merged`: the Qwen3-VL text model (transformers' Qwen3VLTextModel + lm_head) as one graph that serves
 * prefill (S > 1, any past) and decode (S = 1) alike.
 *
 * Inputs  `inputs_embeds` [B, S, H], `attention_mask` [B, T] i64 (T = P + S), `position_ids` [3, B, S] i64,
 *         `past_key_values.{i}.key|value` [B, kvHeads, P, D] (P = 0 on the first step),
 *         `num_logits_to_keep` [] i64 (0 = every position, k = the last k; generation passes 1),
 *         with DeepStack also `visual_pos_masks` [B, S] bool and `deepstack_visual_embeds` [nDeepstack, nVisual, H]
 *         (rows in the order of the true entries of visual_pos_masks; nVisual = 0 when no image token is in the chunk).
 * Outputs `logits` [B, k, V] f32, `present.{i}.key|value` [B, kvHeads, T, D].
 * Without DeepStack these are the names and shapes transformers.js feeds for `qwen3_vl` (batch dim "batch_size",
 * numeric kvHeads and D so it can build the empty first-step past).
 *
 * Per layer (Qwen3VLTextDecoderLayer): h += o_proj(attn(rope(q_norm(q)), rope(k_norm(k)), v)) on input_layernorm(h),
 * then h += down(act(gate(x)) · up(x)) on post_attention_layernorm(h) (act = hidden_act, SiLU for Qwen3-VL); after
 * layer l < nDeepstack, h[visual positions] += deepstack_visual_embeds[l]. Then norm, lm_head on the kept positions.
 */

import type { Qwen3VLConfig } from "@/lib/model/config";
import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { attention, buildAttentionContext, type AttentionKind } from "./decoderAttention";
import { ResidualStream, rmsNorm, type NormKind } from "./decoderNorm";
import {
  activation,
  add,
  cast,
  equal,
  gather,
  linear,
  mul,
  neg,
  reshape,
  shape,
  slice,
  transpose,
  unsqueeze,
  where,
} from "@/lib/model/onnx/ops";
import { applyRotary, buildRotaryTables, type RotaryTables } from "./decoderRotary";
import { EMBED_TOKENS_WEIGHT } from "./embedTokens";
import { DEFAULT_ROTARY, type RotaryKind } from "./rotaryEmbedding";

export interface DecoderGraphOptions {
  readonly norm: NormKind;
  readonly attention: AttentionKind;
  readonly rotary: RotaryKind;
}

/**
 * What bundles use: ORT's fused RMSNorm, GroupQueryAttention and RotaryEmbedding. On CPU (scripts/bench-decoder.ts,
 * `small` preset, one thread) the first two are on par with plain ops at 800 prompt tokens and ~23% faster at 2,400,
 * where attention weighs more. The fused rotary is one kernel per q and k instead of five: faster on CPU, no measurable
 * difference on the H200 under WebGPU (README, Running on a GPU, has the A/B). The plain forms stay as the readable
 * reference the tests hold the fused ones to.
 */
export const DEFAULT_DECODER_OPTIONS: DecoderGraphOptions = { norm: "fused", attention: "gqa", rotary: DEFAULT_ROTARY };

export function lmHeadWeightName(cfg: Qwen3VLConfig): string {
  return cfg.tieWordEmbeddings ? EMBED_TOKENS_WEIGHT : "lm_head.weight";
}

export function buildDecoderGraph(
  g: GraphBuilder,
  cfg: Qwen3VLConfig,
  opts: DecoderGraphOptions = DEFAULT_DECODER_OPTIONS,
): void {
  const t = cfg.text;
  const { hiddenSize: hidden, headDim, numKeyValueHeads: numKvHeads } = t;
  const deepstackCount = cfg.vision.deepstackVisualIndexes.length;
  const B = "batch_size";
  const S = "sequence_length";

  const inputsEmbeds = g.input("inputs_embeds", g.floatType, [B, S, hidden]);
  const attentionMask = g.input("attention_mask", "int64", [B, "total_sequence_length"]);
  const positionIds = g.input("position_ids", "int64", [3, B, S]);
  const past = Array.from({ length: t.numHiddenLayers }, (_, i) => ({
    key: g.input(`past_key_values.${i}.key`, g.floatType, [B, numKvHeads, "past_sequence_length", headDim]),
    value: g.input(`past_key_values.${i}.value`, g.floatType, [B, numKvHeads, "past_sequence_length", headDim]),
  }));
  const numLogitsToKeep = g.input("num_logits_to_keep", "int64", []);
  const deepstack =
    deepstackCount > 0
      ? {
          mask: g.input("visual_pos_masks", "bool", [B, S]),
          embeds: g.input("deepstack_visual_embeds", g.floatType, [deepstackCount, "num_visual_tokens", hidden]),
        }
      : null;

  g.scope("model", () => {
    const rotary = buildRotaryTables(g, opts.rotary, positionIds, {
      headDim,
      theta: t.ropeTheta,
      mropeSection: t.mropeSection,
      interleaved: t.mropeInterleaved,
    });
    const attnCtx = buildAttentionContext(g, opts.attention, attentionMask, inputsEmbeds);
    // [nVisual, 2] (batch, position) of every visual token, shared by all DeepStack layers.
    const visualIndex = deepstack
      ? g.scope("deepstack", () => transpose(g, g.op1("NonZero", [deepstack.mask]), [1, 0]))
      : null;

    const stream = new ResidualStream(g, opts.norm, inputsEmbeds);
    for (let i = 0; i < t.numHiddenLayers; i++) {
      g.scope(`layers.${i}`, () => {
        const prefix = `model.language_model.layers.${i}`;
        const x = g.scope("input_layernorm", () => stream.norm(`${prefix}.input_layernorm.weight`, t.rmsNormEps));
        const attn = g.scope("attn", () => selfAttention(g, cfg, opts, prefix, x, rotary, attnCtx, past[i]));
        g.output(attn.presentKey, `present.${i}.key`, g.floatType, [B, numKvHeads, "total_sequence_length", headDim]);
        g.output(attn.presentValue, `present.${i}.value`, g.floatType, [
          B,
          numKvHeads,
          "total_sequence_length",
          headDim,
        ]);
        stream.add(attn.output);
        const y = g.scope("post_attention_layernorm", () =>
          stream.norm(`${prefix}.post_attention_layernorm.weight`, t.rmsNormEps),
        );
        stream.add(g.scope("mlp", () => mlp(g, prefix, t.hiddenAct, y)));
        if (deepstack && visualIndex && i < deepstackCount) {
          g.scope("deepstack", () => {
            const rows = gather(g, deepstack.embeds, g.constInt64([i], [])); // [nVisual, H]
            // hidden[visual] = hidden[visual] + rows, as transformers' _deepstack_process; a no-op for nVisual = 0
            // (decode steps, text-only chunks). Gather-add-scatter rather than ScatterND's reduction "add", which
            // ORT's CPU kernel lacks for fp16.
            const hidden = stream.hidden();
            const visual = g.op1("GatherND", [hidden, visualIndex]); // [nVisual, H]
            stream.replace(g.op1("ScatterND", [hidden, visualIndex, add(g, visual, rows)]));
          });
        }
      });
    }

    const logits = g.scope("lm_head", () => {
      const kept = keepLastPositions(g, stream.hidden(), numLogitsToKeep);
      const normed = g.scope("norm", () =>
        rmsNorm(g, opts.norm, kept, "model.language_model.norm.weight", t.rmsNormEps),
      );
      const out = linear(g, normed, lmHeadWeightName(cfg));
      return g.floatType === "float16" ? cast(g, out, "float32") : out;
    });
    g.output(logits, "logits", "float32", [B, "num_logits", t.vocabSize]);
  });
}

function selfAttention(
  g: GraphBuilder,
  cfg: Qwen3VLConfig,
  opts: DecoderGraphOptions,
  prefix: string,
  x: Value,
  rotary: RotaryTables,
  attnCtx: ReturnType<typeof buildAttentionContext>,
  past: { key: Value; value: Value },
) {
  const { headDim, numAttentionHeads: numHeads, numKeyValueHeads: numKvHeads, rmsNormEps } = cfg.text;
  const project = (name: string, heads: number) =>
    g.scope(`${name}_proj`, () =>
      reshape(g, linear(g, x, `${prefix}.self_attn.${name}_proj.weight`), [0, 0, heads, headDim]),
    ); // [B, S, heads, D]
  // Per-head RMSNorm over D, before rotary (Qwen3).
  const headNorm = (name: string, v: Value) =>
    g.scope(`${name}_norm`, () => rmsNorm(g, opts.norm, v, `${prefix}.self_attn.${name}_norm.weight`, rmsNormEps));
  const q = g.scope("q_rotary", () => applyRotary(g, headNorm("q", project("q", numHeads)), rotary, headDim));
  const k = g.scope("k_rotary", () => applyRotary(g, headNorm("k", project("k", numKvHeads)), rotary, headDim));
  const v = project("v", numKvHeads);
  const result = attention(g, attnCtx, { numHeads, numKvHeads, headDim }, q, k, v, past.key, past.value);
  const output = g.scope("o_proj", () => linear(g, result.output, `${prefix}.self_attn.o_proj.weight`));
  return { output, presentKey: result.presentKey, presentValue: result.presentValue };
}

/** SiLU-gated MLP: down(act(gate(y)) · up(y)). */
function mlp(g: GraphBuilder, prefix: string, hiddenAct: string, y: Value): Value {
  const project = (name: string, v: Value) =>
    g.scope(`${name}_proj`, () => linear(g, v, `${prefix}.mlp.${name}_proj.weight`));
  const gateProjected = project("gate", y);
  const gate = g.scope("act_fn", () => activation(g, gateProjected, hiddenAct));
  return project("down", mul(g, gate, project("up", y)));
}

/** h[:, −k:] for k = num_logits_to_keep, every position when k = 0. */
function keepLastPositions(g: GraphBuilder, h: Value, numLogitsToKeep: Value): Value {
  const seq = shape(g, h, 1, 2); // [1]
  const k = unsqueeze(g, numLogitsToKeep, [0]); // [1]
  const keep = where(g, equal(g, k, g.constInt64([0])), seq, k);
  return slice(g, h, neg(g, keep), [Number.MAX_SAFE_INTEGER], [1]);
}
