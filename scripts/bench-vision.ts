/**
 * npx tsx scripts/bench-vision.ts [--checkpoint DIR] [--reps 5] [--dtype fp32|fp16] [--threads N]
 *
 * Times the vision encoder graph (lib/model/graphs/visionEncoder.ts) on CPU for a few request shapes: one 1024×768
 * image (grid 1×48×64 = 3072 patches), one 512×512 image, and both in one call (two frames of different lengths, so
 * the padded frame batch is exercised) next to the two encoded one after the other. Default checkpoint: the `small`
 * preset with random weights (seed 0), generated into .cache/bench/small-checkpoint on first use (shared with
 * bench-decoder.ts). Prints a table and writes bench/results/vision-encoder-<time>.json.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import { parseQwen3VLConfig } from "@/lib/model/config";
import { buildVisionEncoderGraph } from "@/lib/model/graphs/visionEncoder";
import { GraphBuilder } from "@/lib/model/onnx/graphBuilder";
import { writeModel } from "@/lib/model/onnx/writeModel";
import { ensureSmallCheckpoint, line, median } from "./benchSupport";

type Grid = [number, number, number];

/** Each case is one or more calls; a call is the grids of the images it encodes together. */
const CASES: { label: string; calls: Grid[][] }[] = [
  { label: "1024×768 image", calls: [[[1, 48, 64]]] },
  { label: "512×512 image", calls: [[[1, 32, 32]]] },
  {
    label: "both images, one call",
    calls: [
      [
        [1, 48, 64],
        [1, 32, 32],
      ],
    ],
  },
  { label: "both images, two calls", calls: [[[1, 48, 64]], [[1, 32, 32]]] },
];

const { values } = parseArgs({
  options: {
    checkpoint: { type: "string", default: ".cache/bench/small-checkpoint" },
    reps: { type: "string", default: "5" },
    dtype: { type: "string", default: "fp32" },
    threads: { type: "string", default: "0" },
  },
});
const reps = Number(values.reps);
/** ORT intra-op threads; 0 = ORT's default (one per core). */
const threads = Number(values.threads);
const floatType = values.dtype === "fp16" ? "float16" : "float32";

const patchCount = (grids: Grid[]) => grids.reduce((sum, [t, h, w]) => sum + t * h * w, 0);

async function main(): Promise<void> {
  await ensureSmallCheckpoint(values.checkpoint);
  const cfg = parseQwen3VLConfig(JSON.parse(await readFile(path.join(values.checkpoint, "config.json"), "utf8")));
  const v = cfg.vision;
  const patchFeatures = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;

  const file = path.join(".cache/bench", `vision-encoder-${values.dtype}.onnx`);
  await mkdir(path.dirname(file), { recursive: true });
  const g = new GraphBuilder({ name: "vision_encoder", floatType });
  buildVisionEncoderGraph(g, cfg);
  const checkpoint = await SafetensorsCheckpoint.open(values.checkpoint);
  await writeModel(g, file, checkpoint);
  await checkpoint.close();
  const session = await ort.InferenceSession.create(file, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
  });

  const feeds = (grids: Grid[]) => {
    const patches = patchCount(grids);
    const pixels = Float32Array.from({ length: patches * patchFeatures }, (_, i) => Math.sin(i * 0.618));
    return {
      pixel_values: new ort.Tensor("float32", pixels, [patches, patchFeatures]),
      image_grid_thw: new ort.Tensor("int64", BigInt64Array.from(grids.flat(), BigInt), [grids.length, 3]),
    };
  };
  const caseFeeds = CASES.map((c) => c.calls.map(feeds));
  await session.run(caseFeeds[1][0]); // warm-up

  // Cases are timed round-robin, so a change in machine load hits them alike; the minimum is the least disturbed.
  const ms = CASES.map(() => [] as number[]);
  for (let r = 0; r < reps; r++) {
    for (const [c, calls] of caseFeeds.entries()) {
      const start = performance.now();
      for (const f of calls) await session.run(f);
      ms[c].push(performance.now() - start);
    }
    line(`round ${r + 1}/${reps} done`);
  }
  await session.release();

  const results = CASES.map((c, i) => {
    const patches = c.calls.reduce((sum, grids) => sum + patchCount(grids), 0);
    return {
      case: c.label,
      patches,
      minMs: Math.min(...ms[i]),
      medianMs: median(ms[i]),
      patchesPerSecond: (patches / Math.min(...ms[i])) * 1000,
    };
  });
  line(
    `\nvision encoder, ${values.checkpoint} (depth ${v.depth}, hidden ${v.hiddenSize}, ${v.numHeads} heads), ${values.dtype}, threads ${threads || "default"}`,
  );
  line(`${"case".padEnd(26)} | patches | min ms | median ms | patches/s`);
  for (const row of results) {
    line(
      `${row.case.padEnd(26)} | ${String(row.patches).padStart(7)} | ${row.minMs.toFixed(0).padStart(6)} | ${row.medianMs.toFixed(0).padStart(9)} | ${row.patchesPerSecond.toFixed(0).padStart(9)}`,
    );
  }

  const out = {
    benchmark: "vision-encoder",
    date: new Date().toISOString(),
    host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadAverage: os.loadavg() },
    checkpoint: values.checkpoint,
    dtype: values.dtype,
    reps,
    threads,
    results,
  };
  await mkdir("bench/results", { recursive: true });
  const resultFile = path.join("bench/results", `vision-encoder-${out.date.replace(/[:.]/g, "-")}.json`);
  await writeFile(resultFile, JSON.stringify(out, null, 2) + "\n");
  line(
    `wrote ${resultFile} (load average at the end: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(", ")})`,
  );
}

await main();
