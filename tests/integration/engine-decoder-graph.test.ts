import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import { parseQwen3VLConfig, type Qwen3VLConfig } from "@/lib/model/config";
import { buildDecoderGraph, type DecoderGraphOptions } from "@/lib/model/graphs/decoder";
import { GraphBuilder } from "@/lib/model/onnx/graphBuilder";
import { writeModel } from "@/lib/model/onnx/writeModel";
import { fixtureDir, maxAbsDiff } from "./engineFixtures";
import { readFile } from "node:fs/promises";

/**
 * The decoder graph on its own, built from a fixture checkpoint in several forms and fed directly:
 * - DeepStack: the graph with DeepStack equals the same weights without it unless visual rows are added, and then
 *   only from the first visual token on (causality);
 * - the contrib-op variants (fused RMSNorm, GroupQueryAttention, RotaryEmbedding) compute the plain graph's function,
 *   also for a left-padded batch of two and a prefill on top of a past; the fused rotary alone to fp32 rounding.
 */
const H_SEED = 11;

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

interface Run {
  embeds: Float32Array; // [B, S, H]
  batch: number;
  mask: number[]; // [B, T]
  positions: number[]; // [3, B, S]
  past: ort.InferenceSession.OnnxValueMapType | null;
  visual?: { mask: number[]; rows: Float32Array; count: number };
}

describe("decoder graph", () => {
  let dir: string;
  let cfg: Qwen3VLConfig;
  let checkpoint: SafetensorsCheckpoint;
  const sessions = new Map<string, ort.InferenceSession>();

  async function session(key: string, config: Qwen3VLConfig, opts: DecoderGraphOptions): Promise<ort.InferenceSession> {
    const existing = sessions.get(key);
    if (existing) return existing;
    const g = new GraphBuilder({ name: "decoder_model_merged", floatType: "float32" });
    buildDecoderGraph(g, config, opts);
    const file = path.join(dir, `${key}.onnx`);
    await writeModel(g, file, checkpoint);
    const created = await ort.InferenceSession.create(file, { executionProviders: ["cpu"] });
    sessions.set(key, created);
    return created;
  }

  function feeds(config: Qwen3VLConfig, run: Run): Record<string, ort.Tensor> {
    const t = config.text;
    const seq = run.embeds.length / run.batch / t.hiddenSize;
    const total = run.mask.length / run.batch;
    const f: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor("float32", run.embeds, [run.batch, seq, t.hiddenSize]),
      attention_mask: new ort.Tensor("int64", BigInt64Array.from(run.mask, BigInt), [run.batch, total]),
      position_ids: new ort.Tensor("int64", BigInt64Array.from(run.positions, BigInt), [3, run.batch, seq]),
      num_logits_to_keep: new ort.Tensor("int64", BigInt64Array.of(0n), []),
    };
    for (let i = 0; i < t.numHiddenLayers; i++) {
      for (const kind of ["key", "value"]) {
        f[`past_key_values.${i}.${kind}`] = run.past
          ? (run.past[`present.${i}.${kind}`] as ort.Tensor)
          : new ort.Tensor("float32", new Float32Array(0), [run.batch, t.numKeyValueHeads, 0, t.headDim]);
      }
    }
    const n = config.vision.deepstackVisualIndexes.length;
    if (n > 0) {
      const visual = run.visual ?? {
        mask: new Array<number>(run.batch * seq).fill(0),
        rows: new Float32Array(0),
        count: 0,
      };
      f.visual_pos_masks = new ort.Tensor("bool", Uint8Array.from(visual.mask), [run.batch, seq]);
      f.deepstack_visual_embeds = new ort.Tensor("float32", visual.rows, [n, visual.count, t.hiddenSize]);
    }
    return f;
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vlcache-decoder-graph-"));
    const model = path.join(fixtureDir("tiny-deepstack-tied"), "model");
    cfg = parseQwen3VLConfig(JSON.parse(await readFile(path.join(model, "config.json"), "utf8")));
    checkpoint = await SafetensorsCheckpoint.open(model);
  });
  afterAll(async () => {
    for (const s of sessions.values()) await s.release();
    await checkpoint?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const plain: DecoderGraphOptions = { norm: "plain", attention: "plain", rotary: "plain" };

  it("adds DeepStack rows only at visual tokens, changing logits from the first of them on", async () => {
    const withoutDeepstack: Qwen3VLConfig = { ...cfg, vision: { ...cfg.vision, deepstackVisualIndexes: [] } };
    const on = await session("deepstack-on", cfg, plain);
    const off = await session("deepstack-off", withoutDeepstack, plain);
    const hidden = cfg.text.hiddenSize;
    const seq = 10;
    const random = seeded(H_SEED);
    const embeds = Float32Array.from({ length: seq * hidden }, () => random());
    const base: Run = {
      embeds,
      batch: 1,
      mask: new Array<number>(seq).fill(1),
      positions: [0, 1, 2].flatMap(() => Array.from({ length: seq }, (_, i) => i)),
      past: null,
    };
    const visualMask = [0, 0, 0, 1, 1, 0, 0, 1, 0, 0];
    const n = cfg.vision.deepstackVisualIndexes.length;
    const rows = Float32Array.from({ length: n * 3 * hidden }, () => random());

    const logits = async (s: ort.InferenceSession, config: Qwen3VLConfig, run: Run) =>
      ((await s.run(feeds(config, run))).logits as ort.Tensor).data as Float32Array;
    const reference = await logits(off, withoutDeepstack, base);
    expect(maxAbsDiff(await logits(on, cfg, base), reference)).toBe(0);
    const zeroRows = { mask: visualMask, rows: new Float32Array(rows.length), count: 3 };
    expect(maxAbsDiff(await logits(on, cfg, { ...base, visual: zeroRows }), reference)).toBe(0);

    const added = await logits(on, cfg, { ...base, visual: { mask: visualMask, rows, count: 3 } });
    const vocab = cfg.text.vocabSize;
    for (let p = 0; p < seq; p++) {
      const diff = maxAbsDiff(
        added.subarray(p * vocab, (p + 1) * vocab),
        reference.subarray(p * vocab, (p + 1) * vocab),
      );
      if (p < 3) expect(diff).toBe(0);
      else expect(diff).toBeGreaterThan(1e-3);
    }
  });

  // Largest |Δ| allowed for a slice (one position's logits, one head's cache row) given the plain graph's values. The
  // fused rotary alone only rounds x·cos ± x_j·sin differently from Mul/Mul/Add (an fp32 ulp, a few after two
  // layers: ≤ 1.3e-6 of the slice's largest |value| measured); the other contrib ops reorder whole reductions.
  const relative = (r: number) => (plain: Float32Array) => r * plain.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const absolute = (a: number) => () => a;
  for (const { tolerance, ...variant } of [
    { norm: "plain", attention: "plain", rotary: "fused", tolerance: relative(2e-6) },
    { norm: "fused", attention: "plain", rotary: "plain", tolerance: absolute(1e-4) },
    { norm: "plain", attention: "gqa", rotary: "plain", tolerance: absolute(1e-4) },
    { norm: "fused", attention: "gqa", rotary: "fused", tolerance: absolute(1e-4) },
  ] as const satisfies readonly (DecoderGraphOptions & { tolerance: (plain: Float32Array) => number })[]) {
    const label = `norm=${variant.norm} attention=${variant.attention} rotary=${variant.rotary}`;
    it(`computes the plain graph's function with ${label}`, async () => {
      const reference = await session("plain", cfg, plain);
      const candidate = await session(`${variant.norm}-${variant.attention}-${variant.rotary}`, cfg, variant);
      const hidden = cfg.text.hiddenSize;
      const random = seeded(H_SEED + 1);
      // Row 0 is left-padded by 2; row 1 is full. Positions [0, 6) first, then [6, 7) or [6, 9) on top of the cache.
      const embeds = Float32Array.from({ length: 2 * 9 * hidden }, () => random());
      const rows = [0, 1];
      const slice = (batch: number[], from: number, to: number) => {
        const out = new Float32Array(batch.length * (to - from) * hidden);
        batch.forEach((b, i) =>
          out.set(embeds.subarray((b * 9 + from) * hidden, (b * 9 + to) * hidden), i * (to - from) * hidden),
        );
        return out;
      };
      const maskOf = (b: number, to: number) =>
        (b === 0 ? [0, 0, 1, 1, 1, 1, 1, 1, 1] : new Array<number>(9).fill(1)).slice(0, to);
      const positionsOf = (b: number, from: number, to: number) =>
        Array.from({ length: to - from }, (_, i) => (b === 0 ? Math.max(0, from + i - 2) : from + i));
      const run = (batch: number[], from: number, to: number, past: Run["past"]): Run => ({
        embeds: slice(batch, from, to),
        batch: batch.length,
        mask: batch.flatMap((b) => maskOf(b, to)),
        positions: [0, 1, 2].flatMap(() => batch.flatMap((b) => positionsOf(b, from, to))),
        past,
      });
      // ORT's GroupQueryAttention takes a prefill on top of a past only for batch 1 (the engine's case); batches of
      // several rows prefill from an empty cache and then decode one token at a time (transformers.js's case).
      const twoSteps = async (s: ort.InferenceSession) => {
        const batched = await s.run(feeds(cfg, run(rows, 0, 6, null)));
        const decoded = await s.run(feeds(cfg, run(rows, 6, 7, batched)));
        const single = await s.run(feeds(cfg, run([1], 0, 6, null)));
        const chunk = await s.run(feeds(cfg, run([1], 6, 9, single)));
        return [
          { outputs: batched, batch: rows, from: 0, to: 6 },
          { outputs: decoded, batch: rows, from: 6, to: 7 },
          { outputs: chunk, batch: [1], from: 6, to: 9 },
        ];
      };
      const expected = await twoSteps(reference);
      const actual = await twoSteps(candidate);
      for (const [k, { outputs, batch, from, to }] of actual.entries()) {
        const vocab = cfg.text.vocabSize;
        const seq = to - from;
        const ours = outputs.logits.data as Float32Array;
        const theirs = expected[k].outputs.logits.data as Float32Array;
        // Padding positions (row 0's first two) attend to nothing valid: their logits and cache rows are arbitrary.
        batch.forEach((b, i) => {
          for (let p = from; p < to; p++) {
            if (b === 0 && p < 2) continue;
            const at = (i * seq + p - from) * vocab;
            const reference = theirs.subarray(at, at + vocab);
            expect(maxAbsDiff(ours.subarray(at, at + vocab), reference)).toBeLessThanOrEqual(tolerance(reference));
          }
        });
        const [, kvHeads, total, headDim] = outputs["present.1.value"].dims;
        for (const name of ["present.1.key", "present.1.value"]) {
          const oursKv = outputs[name].data as Float32Array;
          const theirsKv = expected[k].outputs[name].data as Float32Array;
          batch.forEach((b, i) => {
            for (let h = 0; h < kvHeads; h++) {
              for (let p = b === 0 ? 2 : 0; p < total; p++) {
                const at = ((i * kvHeads + h) * total + p) * headDim;
                const reference = theirsKv.subarray(at, at + headDim);
                expect(maxAbsDiff(oursKv.subarray(at, at + headDim), reference)).toBeLessThanOrEqual(
                  tolerance(reference),
                );
              }
            }
          });
        }
      }
    });
  }
});
