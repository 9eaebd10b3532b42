/**
 * npx tsx scripts/bench-decoder.ts [--checkpoint DIR] [--prefill 800] [--decode 32] [--reps 5] [--dtype fp32|fp16]
 *                                  [--threads N]
 *
 * Times the decoder graph's variants (lib/model/graphs/decoder.ts: plain ONNX ops vs ORT contrib norms,
 * GroupQueryAttention and RotaryEmbedding) on CPU: one prefill of N tokens from an empty cache, then greedy-style
 * decode steps on top of it.
 * Also reports each variant's largest logit difference from the plain one, since a fast variant is only useful if it
 * computes the same function. Default checkpoint: the `small` preset with random weights (seed 0), generated into
 * .cache/bench/small-checkpoint on first use. Prints a table and writes bench/results/decoder-variants-<time>.json.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import { parseQwen3VLConfig } from "@/lib/model/config";
import { buildDecoderGraph, type DecoderGraphOptions } from "@/lib/model/graphs/decoder";
import { toFloat16Array } from "@/lib/model/onnx/float16";
import { GraphBuilder } from "@/lib/model/onnx/graphBuilder";
import { writeModel } from "@/lib/model/onnx/writeModel";
import { ensureSmallCheckpoint, line, median } from "./benchSupport";

const VARIANTS: DecoderGraphOptions[] = [
  { norm: "plain", attention: "plain", rotary: "plain" },
  { norm: "fused", attention: "plain", rotary: "plain" },
  { norm: "plain", attention: "gqa", rotary: "plain" },
  { norm: "fused", attention: "gqa", rotary: "plain" },
  { norm: "fused", attention: "gqa", rotary: "fused" },
];

const { values } = parseArgs({
  options: {
    checkpoint: { type: "string", default: ".cache/bench/small-checkpoint" },
    prefill: { type: "string", default: "800" },
    decode: { type: "string", default: "32" },
    reps: { type: "string", default: "5" },
    dtype: { type: "string", default: "fp32" },
    threads: { type: "string", default: "0" },
  },
});
const prefillTokens = Number(values.prefill);
const decodeSteps = Number(values.decode);
const reps = Number(values.reps);
/** ORT intra-op threads; 0 = ORT's default (one per core). */
const threads = Number(values.threads);
const floatType = values.dtype === "fp16" ? "float16" : "float32";

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

async function main(): Promise<void> {
  await ensureSmallCheckpoint(values.checkpoint);
  const cfg = parseQwen3VLConfig(JSON.parse(await readFile(path.join(values.checkpoint, "config.json"), "utf8")));
  const t = cfg.text;
  const checkpoint = await SafetensorsCheckpoint.open(values.checkpoint);
  const random = seeded(7);
  const embeds = Float32Array.from({ length: (prefillTokens + decodeSteps) * t.hiddenSize }, () => random());
  const floatData = (x: Float32Array) => (floatType === "float16" ? toFloat16Array(x) : x);
  const emptyFloat = () => (floatType === "float16" ? new Uint16Array(0) : new Float32Array(0));
  const deepstackCount = cfg.vision.deepstackVisualIndexes.length;

  const feeds = (from: number, to: number, past: ort.InferenceSession.OnnxValueMapType | null) => {
    const seq = to - from;
    const f: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor(floatType, floatData(embeds.slice(from * t.hiddenSize, to * t.hiddenSize)), [
        1,
        seq,
        t.hiddenSize,
      ]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(to).fill(1n), [1, to]),
      position_ids: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: 3 * seq }, (_, i) => BigInt(from + (i % seq))),
        [3, 1, seq],
      ),
      num_logits_to_keep: new ort.Tensor("int64", BigInt64Array.of(1n), []),
    };
    if (deepstackCount > 0) {
      f.visual_pos_masks = new ort.Tensor("bool", new Uint8Array(seq), [1, seq]);
      f.deepstack_visual_embeds = new ort.Tensor(floatType, emptyFloat(), [deepstackCount, 0, t.hiddenSize]);
    }
    for (let i = 0; i < t.numHiddenLayers; i++) {
      for (const kind of ["key", "value"]) {
        f[`past_key_values.${i}.${kind}`] = past
          ? (past[`present.${i}.${kind}`] as ort.Tensor)
          : new ort.Tensor(floatType, emptyFloat(), [1, t.numKeyValueHeads, 0, t.headDim]);
      }
    }
    return f;
  };

  // All variants are open at once and timed round-robin, so a change in machine load hits them alike; the minimum
  // over rounds is the least disturbed measurement.
  const sessions: { label: string; session: ort.InferenceSession }[] = [];
  for (const variant of VARIANTS) {
    const file = path.join(
      ".cache/bench",
      `decoder-${variant.norm}-${variant.attention}-${variant.rotary}-${values.dtype}.onnx`,
    );
    const g = new GraphBuilder({ name: "decoder_model_merged", floatType });
    buildDecoderGraph(g, cfg, variant);
    await writeModel(g, file, checkpoint);
    const session = await ort.InferenceSession.create(file, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: threads,
    });
    await session.run(feeds(0, 16, null)); // warm-up
    sessions.push({ label: `norm=${variant.norm} attention=${variant.attention} rotary=${variant.rotary}`, session });
  }
  await checkpoint.close();

  const prefillMs = sessions.map(() => [] as number[]);
  const decodeMs = sessions.map(() => [] as number[]);
  const lastLogits: Float32Array[] = [];
  for (let r = 0; r < reps; r++) {
    for (const [v, { session }] of sessions.entries()) {
      let start = performance.now();
      let past = await session.run(feeds(0, prefillTokens, null));
      prefillMs[v].push(performance.now() - start);
      for (let s = 0; s < decodeSteps; s++) {
        start = performance.now();
        past = await session.run(feeds(prefillTokens + s, prefillTokens + s + 1, past));
        decodeMs[v].push(performance.now() - start);
      }
      lastLogits[v] = (past.logits as ort.Tensor).data as Float32Array;
    }
    line(`round ${r + 1}/${reps} done`);
  }
  const results = sessions.map(({ label }, v) => ({
    variant: label,
    prefillMinMs: Math.min(...prefillMs[v]),
    prefillMedianMs: median(prefillMs[v]),
    decodeMinMs: Math.min(...decodeMs[v]),
    decodeMedianMs: median(decodeMs[v]),
    maxLogitDiffFromPlain: lastLogits[v].reduce((m, x, i) => Math.max(m, Math.abs(x - lastLogits[0][i])), 0),
  }));
  line(
    `\n${"variant".padEnd(43)} | prefill ${prefillTokens} tok min / median | decode ms/token min / median | max |Δlogit| vs plain`,
  );
  for (const row of results) {
    line(
      `${row.variant.padEnd(43)} | ${row.prefillMinMs.toFixed(0).padStart(8)} / ${row.prefillMedianMs.toFixed(0).padStart(6)} ms` +
        ` | ${row.decodeMinMs.toFixed(1).padStart(9)} / ${row.decodeMedianMs.toFixed(1).padStart(6)} ms | ${row.maxLogitDiffFromPlain.toExponential(1)}`,
    );
  }
  await Promise.all(sessions.map(({ session }) => session.release()));

  const out = {
    benchmark: "decoder-variants",
    date: new Date().toISOString(),
    host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadAverage: os.loadavg() },
    checkpoint: values.checkpoint,
    dtype: values.dtype,
    prefillTokens,
    decodeSteps,
    reps,
    threads,
    results,
  };
  await mkdir("bench/results", { recursive: true });
  const file = path.join("bench/results", `decoder-variants-${out.date.replace(/[:.]/g, "-")}.json`);
  await writeFile(file, JSON.stringify(out, null, 2) + "\n");
  line(
    `wrote ${file} (load average at the end: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(", ")})`,
  );
}

await main();
