/**
 * npx tsx scripts/gpu/precision.ts --checkpoint DIR [--checkpoint DIR …] [--providers cpu,webgpu] [--prompt 800]
 *                                  [--keep 32] [--variants none,norms,matmuls,norms+matmuls] [--work DIR] [--out PREFIX]
 *                                  [--bundles DIR --bundle-variants V,…]
 *
 * Where a float16 bundle's numbers come apart between execution providers. For each checkpoint, the decoder and the
 * vision encoder are built as float32 graphs (the reference) and as float16 graphs with different parts computed in
 * float32 (Float32Compute in lib/model/onnx/graphBuilder.ts; a variant names the widened parts joined by "+", or
 * `none` / `all`; with attention, ORT 1.30's WebGPU GroupQueryAttention fails, see DEFAULT_FLOAT32_COMPUTE), and each
 * graph runs on each provider with the same inputs:
 * - decoder: a text-only prefill of --prompt tokens (the embeddings of fixed ids), logits of the last --keep positions;
 * - vision: one 1024×768 image (grid 1×48×64) of a fixed pixel pattern, image_features and deepstack_features.
 * Every output is compared with the float32 graph on the CPU and with the same graph on the CPU: max |Δ| and, for
 * logits, how many of the --keep positions have the same argmax (teacher-forced greedy agreement).
 *
 * Writes PREFIX.md and PREFIX.json (default bench/results/precision-<date>); `--variants ""` skips the comparison.
 * With --bundles, then converts the first checkpoint to one fp16 bundle per --bundle-variants entry, as
 * DIR/<variant>, for end-to-end checks with bench.ts.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { parseQwen3VLConfig, type Qwen3VLConfig } from "@/lib/model/config";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import { convertCheckpoint } from "@/lib/model/convert/convert";
import {
  providerSessionFactory,
  EXECUTION_PROVIDERS,
  type ExecutionProviderName,
} from "@/lib/model/engine/executionProvider";
import { buildDecoderGraph } from "@/lib/model/graphs/decoder";
import { buildEmbedTokensGraph } from "@/lib/model/graphs/embedTokens";
import { buildVisionEncoderGraph } from "@/lib/model/graphs/visionEncoder";
import { fromFloat16Array, toFloat16Array } from "@/lib/model/onnx/float16";
import { GraphBuilder, type Float32Compute, type Float32Part, type FloatType } from "@/lib/model/onnx/graphBuilder";
import { writeModel } from "@/lib/model/onnx/writeModel";
import { line, textPromptIds } from "../benchSupport";

const GRID = { t: 1, h: 48, w: 64 };
const PARTS: readonly Float32Part[] = ["norms", "attention", "matmuls"];

const { values } = parseArgs({
  options: {
    checkpoint: { type: "string", multiple: true },
    providers: { type: "string", default: "cpu,webgpu" },
    prompt: { type: "string", default: "800" },
    keep: { type: "string", default: "32" },
    variants: { type: "string", default: "none,norms,matmuls,norms+matmuls" },
    work: { type: "string", default: ".cache/precision" },
    out: { type: "string" },
    bundles: { type: "string" },
    "bundle-variants": { type: "string", default: "" },
  },
  strict: true,
});
const checkpoints = values.checkpoint ?? [];
const providers = values.providers.split(",") as ExecutionProviderName[];
const promptTokens = Number(values.prompt);
const keep = Number(values.keep);
if (
  checkpoints.length === 0 ||
  providers.some((p) => !EXECUTION_PROVIDERS.includes(p)) ||
  providers[0] !== "cpu" ||
  !(keep >= 1)
) {
  process.stderr.write(
    "usage: precision.ts --checkpoint DIR … [--providers cpu,webgpu (cpu first)] [--prompt N] [--keep N] [--variants V,…] [--out PREFIX]\n",
  );
  process.exit(2);
}

/** `none`, `all`, or parts joined by "+" (`norms+attention`). */
function parseVariant(name: string): Float32Compute {
  const parts = name === "all" ? PARTS : name === "none" ? [] : name.split("+");
  for (const p of parts)
    if (!PARTS.includes(p as Float32Part)) throw new Error(`unknown variant part ${p} (parts: ${PARTS.join(", ")})`);
  return { norms: parts.includes("norms"), attention: parts.includes("attention"), matmuls: parts.includes("matmuls") };
}

interface Graph {
  variant: string;
  floatType: FloatType;
  compute: Float32Compute;
}

type Outputs = Record<string, Float32Array>;

interface Row {
  checkpoint: string;
  graph: "decoder" | "vision";
  variant: string;
  provider: ExecutionProviderName;
  /** Second run (the first compiles WebGPU's shaders). */
  ms: number;
  /** Per output: max |Δ| against the float32 graph on the CPU and against this graph on the CPU. */
  diffs: Record<string, { vsFp32Cpu: number; vsCpu: number | null; maxAbs: number }>;
  /** Decoder: positions whose argmax equals the float32 CPU one / the CPU one of this graph, of --keep. */
  argmaxSame?: { vsFp32Cpu: number; vsCpu: number | null };
  /** Decoder, float32 CPU row only: the smallest top-1 minus top-2 logit over the kept positions. */
  minMargin?: number;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

function argmaxRows(logits: Float32Array, vocab: number): { best: number[]; margins: number[] } {
  const best: number[] = [];
  const margins: number[] = [];
  for (let r = 0; r < logits.length / vocab; r++) {
    let top = -Infinity;
    let second = -Infinity;
    let at = 0;
    for (let v = 0; v < vocab; v++) {
      const x = logits[r * vocab + v];
      if (x > top) [second, top, at] = [top, x, v];
      else if (x > second) second = x;
    }
    best.push(at);
    margins.push(top - second);
  }
  return { best, margins };
}

function floatTensor(type: FloatType, values: Float32Array, dims: number[]): ort.Tensor {
  return type === "float16"
    ? new ort.Tensor("float16", toFloat16Array(values), dims)
    : new ort.Tensor("float32", values, dims);
}

function toFloat32(t: ort.Tensor): Float32Array {
  return t.type === "float16" ? fromFloat16Array(t.data as Uint16Array) : (t.data as Float32Array);
}

async function embeddings(cfg: Qwen3VLConfig, checkpoint: SafetensorsCheckpoint, dir: string): Promise<Float32Array> {
  const file = path.join(dir, "embed_tokens-fp32.onnx");
  const g = new GraphBuilder({ name: "embed_tokens", floatType: "float32" });
  buildEmbedTokensGraph(g, cfg);
  await writeModel(g, file, checkpoint);
  const session = await ort.InferenceSession.create(file);
  const ids = BigInt64Array.from(textPromptIds(promptTokens), (x) => BigInt(x));
  const out = await session.run({ input_ids: new ort.Tensor("int64", ids, [1, ids.length]) });
  await session.release();
  return out.inputs_embeds.data as Float32Array;
}

function decoderFeeds(cfg: Qwen3VLConfig, type: FloatType, embeds: Float32Array): Record<string, ort.Tensor> {
  const t = cfg.text;
  const S = promptTokens;
  const empty = new Float32Array(0);
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: floatTensor(type, embeds, [1, S, t.hiddenSize]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor(
      "int64",
      BigInt64Array.from({ length: 3 * S }, (_, i) => BigInt(i % S)),
      [3, 1, S],
    ),
    num_logits_to_keep: new ort.Tensor("int64", BigInt64Array.of(BigInt(keep)), []),
  };
  const deepstack = cfg.vision.deepstackVisualIndexes.length;
  if (deepstack > 0) {
    feeds.visual_pos_masks = new ort.Tensor("bool", new Uint8Array(S), [1, S]);
    feeds.deepstack_visual_embeds = floatTensor(type, empty, [deepstack, 0, t.hiddenSize]);
  }
  for (let i = 0; i < t.numHiddenLayers; i++) {
    for (const kind of ["key", "value"])
      feeds[`past_key_values.${i}.${kind}`] = floatTensor(type, empty, [1, t.numKeyValueHeads, 0, t.headDim]);
  }
  return feeds;
}

function visionFeeds(cfg: Qwen3VLConfig): Record<string, ort.Tensor> {
  const v = cfg.vision;
  const patches = GRID.t * GRID.h * GRID.w;
  const width = v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize;
  const pixels = Float32Array.from({ length: patches * width }, (_, i) => Math.sin(i * 0.618));
  return {
    pixel_values: new ort.Tensor("float32", pixels, [patches, width]),
    image_grid_thw: new ort.Tensor("int64", BigInt64Array.of(BigInt(GRID.t), BigInt(GRID.h), BigInt(GRID.w)), [1, 3]),
  };
}

/** Runs `file` twice on `provider` (the second run is timed) and returns its float outputs as float32. */
async function runGraph(
  provider: ExecutionProviderName,
  file: string,
  feeds: Record<string, ort.Tensor>,
  outputs: string[],
) {
  const session = await providerSessionFactory(provider).open(file);
  try {
    await session.run(feeds, outputs);
    const start = performance.now();
    const out = await session.run(feeds, outputs);
    const ms = performance.now() - start;
    return { ms, outputs: Object.fromEntries(outputs.map((name) => [name, toFloat32(out[name])])) as Outputs };
  } finally {
    await session.release();
  }
}

async function compareCheckpoint(dir: string, graphs: Graph[]): Promise<Row[]> {
  const cfg = parseQwen3VLConfig(JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")));
  const work = path.join(values.work, path.basename(path.resolve(dir)));
  await mkdir(work, { recursive: true });
  const checkpoint = await SafetensorsCheckpoint.open(dir);
  const rows: Row[] = [];
  try {
    const embeds = await embeddings(cfg, checkpoint, work);
    const kinds = [
      {
        graph: "decoder" as const,
        build: buildDecoderGraph,
        feeds: (type: FloatType) => decoderFeeds(cfg, type, embeds),
        outputs: ["logits"],
      },
      {
        graph: "vision" as const,
        build: buildVisionEncoderGraph,
        feeds: () => visionFeeds(cfg),
        outputs:
          cfg.vision.deepstackVisualIndexes.length > 0 ? ["image_features", "deepstack_features"] : ["image_features"],
      },
    ];
    for (const kind of kinds) {
      let reference: Outputs | null = null;
      for (const graph of graphs) {
        const file = path.join(work, `${kind.graph}-${graph.variant}.onnx`);
        const g = new GraphBuilder({ name: kind.graph, floatType: graph.floatType, float32Compute: graph.compute });
        kind.build(g, cfg);
        await writeModel(g, file, checkpoint);
        let cpu: Outputs | null = null;
        for (const provider of providers) {
          const run = await runGraph(provider, file, kind.feeds(graph.floatType), kind.outputs);
          if (provider === "cpu") cpu = run.outputs;
          reference ??= run.outputs;
          const row: Row = {
            checkpoint: dir,
            graph: kind.graph,
            variant: graph.variant,
            provider,
            ms: run.ms,
            diffs: {},
          };
          for (const name of kind.outputs) {
            const out = run.outputs[name];
            row.diffs[name] = {
              vsFp32Cpu: maxAbsDiff(out, reference[name]),
              vsCpu: provider === "cpu" || cpu === null ? null : maxAbsDiff(out, cpu[name]),
              maxAbs: maxAbs(out),
            };
          }
          if (kind.graph === "decoder") {
            const vocab = cfg.text.vocabSize;
            const mine = argmaxRows(run.outputs.logits, vocab);
            const same = (other: Outputs) =>
              argmaxRows(other.logits, vocab).best.filter((b, i) => b === mine.best[i]).length;
            row.argmaxSame = {
              vsFp32Cpu: same(reference),
              vsCpu: provider === "cpu" || cpu === null ? null : same(cpu),
            };
            if (reference === run.outputs) row.minMargin = Math.min(...mine.margins);
          }
          rows.push(row);
          line(formatRow(row));
        }
        await rm(file, { force: true });
        await rm(`${file}_data`, { force: true });
      }
    }
  } finally {
    await checkpoint.close();
  }
  return rows;
}

function formatRow(r: Row): string {
  const e = (x: number | null) => (x === null ? "-" : x.toExponential(2));
  const diffs = Object.entries(r.diffs).map(
    ([name, d]) => `${name}: ${e(d.vsFp32Cpu)} / ${e(d.vsCpu)} (max |x| ${d.maxAbs.toPrecision(3)})`,
  );
  const argmax = r.argmaxSame
    ? `argmax same ${r.argmaxSame.vsFp32Cpu}/${keep} / ${r.argmaxSame.vsCpu ?? "-"}/${keep}`
    : "";
  return (
    [
      `| ${path.basename(r.checkpoint)} | ${r.graph} | ${r.variant} | ${r.provider} | ${r.ms.toFixed(0)}`,
      diffs.join("; "),
      argmax || "-",
      r.minMargin?.toExponential(2) ?? "-",
    ].join(" | ") + " |"
  );
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  if (values.variants !== "") await compare(date);
  if (values.bundles !== undefined) {
    for (const variant of values["bundle-variants"].split(",").filter((v) => v !== "")) {
      const out = path.join(values.bundles, variant);
      const start = performance.now();
      await convertCheckpoint(checkpoints[0], out, {
        dtype: "fp16",
        force: true,
        float32Compute: parseVariant(variant),
      });
      line(
        `converted ${checkpoints[0]} → ${out} (fp16, float32 ${variant}) in ${((performance.now() - start) / 1000).toFixed(0)} s`,
      );
    }
  }
}

async function compare(date: string): Promise<void> {
  const graphs: Graph[] = [
    { variant: "fp32", floatType: "float32", compute: parseVariant("none") },
    ...values.variants.split(",").map((variant) => ({
      variant: `fp16-${variant}`,
      floatType: "float16" as const,
      compute: parseVariant(variant),
    })),
  ];
  line(
    `| checkpoint | graph | variant | provider | ms (2nd run) | max abs Δ vs fp32 cpu / vs same graph on cpu | argmax same vs fp32 cpu / vs cpu | min top-2 margin (fp32 cpu) |`,
  );
  line(`| --- | --- | --- | --- | ---: | --- | --- | ---: |`);
  const rows: Row[] = [];
  for (const dir of checkpoints) rows.push(...(await compareCheckpoint(dir, graphs)));

  const prefix = values.out ?? path.join("bench/results", `precision-${date.slice(0, 10)}`);
  await mkdir(path.dirname(prefix), { recursive: true });
  const header = [
    `# fp16 precision by provider, ${date}`,
    "",
    `scripts/gpu/precision.ts: decoder = text-only prefill of ${promptTokens} tokens, logits of the last ${keep}; vision = one 1024×768 image (grid 1×48×64).`,
    "Variant fp16-X computes the parts X in float32 (graphBuilder.ts Float32Compute). Δ columns: max |Δ| against the fp32 graph on the CPU / against the same graph on the CPU.",
    "",
    "| checkpoint | graph | variant | provider | ms (2nd run) | max abs Δ vs fp32 cpu / vs same graph on cpu | argmax same vs fp32 cpu / vs cpu | min top-2 margin (fp32 cpu) |",
    "| --- | --- | --- | --- | ---: | --- | --- | ---: |",
  ];
  await writeFile(`${prefix}.md`, [...header, ...rows.map(formatRow), ""].join("\n"));
  await writeFile(
    `${prefix}.json`,
    JSON.stringify({ benchmark: "precision", date, promptTokens, keep, grid: GRID, providers, rows }, null, 2) + "\n",
  );
  line(`wrote ${prefix}.md and ${prefix}.json`);
}

await main();
