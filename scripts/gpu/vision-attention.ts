/**
 * node vision-attention.mjs --bundle DIR [--bundle DIR …] [--reps 5] [--provider webgpu] --out PREFIX
 *
 * Which form of the vision encoder's attention ORT's WebGPU provider runs faster, on the bundle's own graph: the
 * MultiHeadAttention nodes as the bundle stores them (no present outputs: the CPU's flash path, WebGPU's unfused one,
 * which materialises [heads, S, S] scores) against the form the engine opens on WebGPU (present outputs added,
 * lib/model/onnx/attentionPresentOutputs.ts: WebGPU's flash-attention kernel). One 1024×768 image (grid 1×48×64 =
 * 3072 patches); per form one untimed run, then --reps runs alternating between the forms; medians. The two forms'
 * features are compared too (max |Δ|), since the faster one must compute the same function.
 *
 * Writes PREFIX.json and PREFIX.md.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { parseQwen3VLConfig } from "@/lib/model/config";
import { ONNX_FILES } from "@/lib/model/engine/bundle";
import { createSession } from "@/lib/model/engine/executionProvider";
import { patchRowSize } from "@/lib/model/engine/imageFeatures";
import { fromFloat16Array } from "@/lib/model/onnx/float16";
import { maxAbsDiff } from "@/lib/model/parity/compare";
import { median } from "../benchSupport";

const GRID = { t: 1, h: 48, w: 64 };

const { values } = parseArgs({
  options: {
    bundle: { type: "string", multiple: true },
    reps: { type: "string", default: "5" },
    provider: { type: "string", default: "webgpu" },
    out: { type: "string" },
  },
  strict: true,
});

const FORMS = [
  { name: "as stored (no present outputs)", presentOutputs: false },
  { name: "present outputs (engine on WebGPU)", presentOutputs: true },
] as const;

interface FormResult {
  form: string;
  medianMs: number;
  runsMs: number[];
}

async function main(): Promise<void> {
  const bundles = values.bundle ?? [];
  const reps = Number(values.reps);
  if (bundles.length === 0 || values.out === undefined || !(reps >= 1)) {
    throw new Error(
      "usage: vision-attention.ts --bundle DIR [--bundle DIR …] [--reps 5] [--provider webgpu] --out PREFIX",
    );
  }
  const patches = GRID.t * GRID.h * GRID.w;
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [values.provider],
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  };
  const report: { bundle: string; forms: FormResult[]; featuresMaxAbsDiff: number }[] = [];
  for (const bundle of bundles) {
    const file = path.join(bundle, ONNX_FILES.visionEncoder);
    const row = patchRowSize(parseQwen3VLConfig(JSON.parse(await readFile(path.join(bundle, "config.json"), "utf8"))));
    const feeds = {
      pixel_values: new ort.Tensor(
        "float32",
        Float32Array.from({ length: patches * row }, (_, i) => Math.sin(i * 0.618)),
        [patches, row],
      ),
      image_grid_thw: new ort.Tensor("int64", BigInt64Array.of(BigInt(GRID.t), BigInt(GRID.h), BigInt(GRID.w)), [1, 3]),
    };
    const sessions = await Promise.all(FORMS.map((f) => createSession(file, options, f.presentOutputs)));
    try {
      const features: Float32Array[] = [];
      for (const session of sessions) {
        const out = await session.run(feeds);
        const tensor = out.image_features as ort.Tensor;
        features.push(
          tensor.type === "float16" ? fromFloat16Array(tensor.data as Uint16Array) : (tensor.data as Float32Array),
        );
      }
      const runs: number[][] = FORMS.map(() => []);
      for (let r = 0; r < reps; r++) {
        for (const [i, session] of sessions.entries()) {
          const start = performance.now();
          await session.run(feeds);
          runs[i].push(performance.now() - start);
        }
      }
      const forms = FORMS.map((f, i) => ({ form: f.name, medianMs: median(runs[i]), runsMs: runs[i] }));
      const diff = maxAbsDiff(features[1], features[0]);
      report.push({ bundle, forms, featuresMaxAbsDiff: diff });
      process.stdout.write(
        `${bundle}: ${forms.map((f) => `${f.form} ${f.medianMs.toFixed(0)} ms`).join(", ")}; features max |Δ| ${diff.toExponential(2)}\n`,
      );
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  }
  const md = [
    `# Vision encoder attention on ${values.provider}: as stored vs with present outputs`,
    "",
    `1024×768 image (grid ${GRID.t}×${GRID.h}×${GRID.w}, ${patches} patches), medians of ${reps} runs per form (alternating, after one untimed run each).`,
    "",
    "| bundle | form | vision encoder ms |",
    "|---|---|---:|",
    ...report.flatMap((r) => r.forms.map((f) => `| ${r.bundle} | ${f.form} | ${f.medianMs.toFixed(1)} |`)),
    "",
    ...report.map(
      (r) =>
        `- ${r.bundle}: image features of the two forms differ by max |Δ| ${r.featuresMaxAbsDiff.toExponential(2)}`,
    ),
    "",
  ].join("\n");
  await writeFile(`${values.out}.json`, JSON.stringify({ grid: GRID, reps, report }, null, 2));
  await writeFile(`${values.out}.md`, md);
}

await main();
