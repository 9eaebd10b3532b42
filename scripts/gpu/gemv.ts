/**
 * npx tsx scripts/gpu/gemv.ts [--provider webgpu] [--layers 28] [--reps 5] [--runs 10] [--prefill 800]
 *                            [--prefill-runs 2] [--out PREFIX]
 *
 * Where a decode step's time goes: the 2b text model's linears alone, as one graph per form of the product, timed on
 * one execution provider. The hypothesis it tests: onnxruntime WebGPU's MatMul for M = 1 (decode) runs its tiled
 * kernel on only N/32 workgroups that each loop over all of K, so each of a step's ~200 matrix-vector products is
 * latency-bound. Split-K can be written in the graph instead of inside the kernel: x [M, K] → [s, M, K/s]; the weight
 * W [K, N] stored as [s, K/s, N] (the same bytes); a batched MatMul → [s, M, N]; ReduceSum over axis 0 → [M, N].
 *
 * The graph: --layers times the linears of one decoder layer — q 2048→2048, k and v 2048→1024, o 2048→2048, gate and
 * up 2048→6144, down 6144→2048 — chained so that every product feeds the next layer (q − Concat(k, v) → o;
 * gate(o) − up(o) → down → the next layer's x) and none is dead code for the optimizer; no attention, norms or
 * activations. Sub, not Add: ORT fuses a MatMul followed by an Add into a Gemm, which would change the form measured. Forms: `plain` (MatMul), `gemm` (Gemm, transB = 1, W stored as [N, K]), `splitk-S` for S = 4, 8, 16.
 * Weights: seeded uniform fp32, scaled so that values keep their size through the layers; one layer's weights (201 MB,
 * several times a GPU's L2) serve every layer, so each product still reads its weight from device memory while the
 * graph file stays one layer's size.
 *
 * Timed at M = 1 (a decode step's shape) for every form and at M = --prefill (0: none) for `plain` and `splitk-8`
 * (a prefill's shape: split-K multiplies a big product's work and memory traffic by nothing but adds a reduction, so it
 * must not be used there). Per form and M: one session; a rep runs the session --runs times in a row (each run
 * uploads x and downloads the output: [M, 2048] fp32, 8 KB at M = 1; --prefill-runs times at the prefill's M), and
 * the per-run time is the rep's time / runs;
 * medians of --reps reps, forms taking turns within each rep after two untimed warm-up runs each (WebGPU compiles its
 * shaders then). Each form's output is compared with `plain`'s on the same input (max |Δ| / max |plain|). Last, each
 * graph is opened once more with ORT's profiler and run once: its nodes per op type and provider show that the products
 * ran on the provider asked for (and any node left to the CPU, or copy between host and device, by name).
 *
 * Writes PREFIX.md and PREFIX.json (default bench/results/gpu-gemv-<date>).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import type { WeightSource } from "@/lib/model/checkpoint/weightSource";
import {
  EXECUTION_PROVIDERS,
  providerSessionFactory,
  type ExecutionProviderName,
} from "@/lib/model/engine/executionProvider";
import { GraphBuilder, type Value } from "@/lib/model/onnx/graphBuilder";
import { concat, matMul, reduceSum, reshape, sub, transpose } from "@/lib/model/onnx/ops";
import { writeModel } from "@/lib/model/onnx/writeModel";
import { line, median } from "../benchSupport";

const HIDDEN = 2048;

/** One decoder layer's linears at the 2b preset's shape; `sum`: its output meets another's in a Sub (halves its scale). */
const LINEARS = {
  q: { k: HIDDEN, n: 2048, sum: true },
  k: { k: HIDDEN, n: 1024, sum: true },
  v: { k: HIDDEN, n: 1024, sum: true },
  o: { k: HIDDEN, n: 2048, sum: false },
  gate: { k: HIDDEN, n: 6144, sum: true },
  up: { k: HIDDEN, n: 6144, sum: true },
  down: { k: 6144, n: HIDDEN, sum: false },
} as const;
type LinearName = keyof typeof LINEARS;

const FORMS = ["plain", "gemm", "splitk-4", "splitk-8", "splitk-16"] as const;
type Form = (typeof FORMS)[number];
/** The forms also timed at a prefill's M. */
const PREFILL_FORMS: readonly Form[] = ["plain", "splitk-8"];

const { values } = parseArgs({
  options: {
    provider: { type: "string", default: "webgpu" },
    layers: { type: "string", default: "28" },
    reps: { type: "string", default: "5" },
    runs: { type: "string", default: "10" },
    prefill: { type: "string", default: "800" },
    "prefill-runs": { type: "string", default: "2" },
    out: { type: "string" },
  },
  strict: true,
});
const provider = values.provider as ExecutionProviderName;
const layers = Number(values.layers);
const reps = Number(values.reps);
const runs = Number(values.runs);
const prefillM = Number(values.prefill);
const prefillRuns = Number(values["prefill-runs"]);
if (
  !EXECUTION_PROVIDERS.includes(provider) ||
  !(layers >= 1 && reps >= 1 && runs >= 1 && prefillM >= 0 && prefillRuns >= 1)
) {
  process.stderr.write(
    `usage: gemv.ts [--provider ${EXECUTION_PROVIDERS.join("|")}] [--layers 28] [--reps 5] [--runs 10] [--prefill 800 (0: none)] [--prefill-runs 2] [--out PREFIX]\n`,
  );
  process.exit(2);
}

/** xorshift32 uniform values in [-scale, scale), the same for a seed in every run. */
function uniform(count: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

/**
 * The layer's weights as W [K, N] (the MatMul's B), uniform with variance 1/K (1/2K for products taken in pairs), so a
 * product keeps its input's variance and the chain neither overflows nor vanishes over the layers.
 */
const weights: WeightSource = {
  has: (name) => name in LINEARS,
  shape: (name) => [LINEARS[name as LinearName].k, LINEARS[name as LinearName].n],
  read: (name) => {
    const { k, n, sum } = LINEARS[name as LinearName];
    const seed = Object.keys(LINEARS).indexOf(name) + 1;
    return Promise.resolve(uniform(k * n, seed, Math.sqrt(3 / (sum ? 2 * k : k))));
  },
};

/** x [m, K] · W → [m, N] in `form`. */
function linear(g: GraphBuilder, x: Value, name: LinearName, form: Form, m: number): Value {
  const { k, n } = LINEARS[name];
  if (form === "plain") return matMul(g, x, g.weight(name), name);
  if (form === "gemm") return g.op1("Gemm", [x, g.weight(name, { transpose: true })], { transB: 1 }, { name });
  const s = Number(form.slice("splitk-".length));
  // [1, K] → [s, 1, K/s] is a Reshape alone; a larger M needs its rows kept apart: [m, s, K/s] → [s, m, K/s].
  const parts =
    m === 1 ? reshape(g, x, [s, 1, k / s]) : transpose(g, reshape(g, x, [m, s, k / s]), [1, 0, 2], `${name}/split`);
  const partial = matMul(g, parts, g.weight(name, { reshape: [s, k / s, n] }), name);
  return reduceSum(g, partial, [0], false, `${name}/reduce`);
}

function buildGraph(form: Form, m: number): GraphBuilder {
  const g = new GraphBuilder({ name: `gemv-${form}-m${m}`, floatType: "float32" });
  let x = g.input("x", "float32", [m, HIDDEN]);
  for (let layer = 0; layer < layers; layer++) {
    x = g.scope(`layers.${layer}`, () => {
      const kv = concat(g, [linear(g, x, "k", form, m), linear(g, x, "v", form, m)], -1);
      const o = linear(g, sub(g, linear(g, x, "q", form, m), kv), "o", form, m);
      return linear(g, sub(g, linear(g, o, "gate", form, m), linear(g, o, "up", form, m)), "down", form, m);
    });
  }
  g.output(x, "y", "float32", [m, HIDDEN]);
  return g;
}

interface Case {
  form: Form;
  m: number;
  file: string;
  /** Runs in a row per rep. */
  runs: number;
  session: ort.InferenceSession;
  input: ort.Tensor;
  samples: number[];
  output: Float32Array;
}

async function run(c: Case): Promise<Float32Array> {
  const result = await c.session.run({ x: c.input });
  return result.y.data as Float32Array;
}

/** Max |a − b| over max |b|. */
function relativeDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

interface Placement {
  form: Form;
  m: number;
  /** "op on provider" → nodes. */
  nodes: Record<string, number>;
}

/** One profiled run of the case's graph in a session of its own: how many of its nodes ran on which provider, per op. */
async function placement(c: Case, dir: string): Promise<Placement> {
  const profile = `profile-${c.form}-m${c.m}`;
  const session = await providerSessionFactory(provider, { profilePrefix: path.join(dir, profile) }).open(c.file);
  await session.run({ x: c.input });
  await session.release();
  const name = (await readdir(dir)).find((f) => f.startsWith(`${profile}-`) && f.endsWith(".json"));
  if (name === undefined) throw new Error(`gemv: ORT wrote no profile for ${c.form} at M = ${c.m}`);
  const events = JSON.parse(await readFile(path.join(dir, name), "utf8")) as {
    cat: string;
    name: string;
    args?: { op_name?: string; provider?: string };
  }[];
  const nodes: Record<string, number> = {};
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const key = `${e.args?.op_name ?? "?"} on ${(e.args?.provider ?? "?").replace("ExecutionProvider", "")}`;
    nodes[key] = (nodes[key] ?? 0) + 1;
  }
  return { form: c.form, m: c.m, nodes };
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  const prefix = values.out ?? path.join("bench/results", `gpu-gemv-${date.slice(0, 10)}`);
  const dir = await mkdtemp(path.join(tmpdir(), "vlcache-gemv-"));
  const factory = providerSessionFactory(provider);
  const cases: Case[] = [];
  try {
    const shapes = [
      ...FORMS.map((form) => ({ form, m: 1 })),
      ...(prefillM > 0 ? PREFILL_FORMS.map((form) => ({ form, m: prefillM })) : []),
    ];
    for (const { form, m } of shapes) {
      const file = path.join(dir, `${form}-m${m}.onnx`);
      await writeModel(buildGraph(form, m), file, weights);
      const input = new ort.Tensor("float32", uniform(m * HIDDEN, 7, 1), [m, HIDDEN]);
      const session = await factory.open(file);
      cases.push({
        form,
        m,
        file,
        runs: m === 1 ? runs : prefillRuns,
        session,
        input,
        samples: [],
        output: new Float32Array(),
      });
      line(`opened ${form} at M = ${m} on ${provider}`);
    }
    for (const c of cases) for (let warm = 0; warm < 2; warm++) c.output = await run(c);
    for (let rep = 0; rep < reps; rep++) {
      for (const c of cases) {
        const started = performance.now();
        for (let r = 0; r < c.runs; r++) await run(c);
        c.samples.push((performance.now() - started) / c.runs);
      }
      line(
        `rep ${rep + 1}/${reps}: ${cases.map((c) => `${c.form}@${c.m} ${c.samples[rep].toFixed(2)} ms`).join(", ")}`,
      );
    }
    const plainAt = (m: number) => cases.find((c) => c.form === "plain" && c.m === m)!;
    const products = layers * Object.keys(LINEARS).length;
    const rows = cases.map((c) => {
      const ms = median(c.samples);
      return {
        form: c.form,
        m: c.m,
        timedRuns: reps * c.runs,
        msPerRun: ms,
        usPerProduct: (ms * 1000) / products,
        vsPlain: ms / median(plainAt(c.m).samples),
        relDiffVsPlain: relativeDiff(c.output, plainAt(c.m).output),
      };
    });
    // Each timing session goes before its graph's profiled one opens: one copy of the weights at a time.
    const placements: Placement[] = [];
    while (cases.length > 0) {
      const c = cases.shift()!;
      await c.session.release();
      placements.push(await placement(c, dir));
    }

    const md = [
      `# Matrix-vector products of a decode step on ${provider}: MatMul against split-K in the graph`,
      "",
      `${date}. ${layers} layers × ${Object.keys(LINEARS).length} linears of the 2b text shape (q 2048→2048, k/v 2048→1024, o 2048→2048, gate/up 2048→6144, down 6144→2048) = ${products} products per run, fp32, chained with one Concat and two Subs per layer (scripts/gpu/gemv.ts).`,
      `Per run: median over ${reps} reps of (runs in a row) / runs, after 2 warm-up runs; ${runs} runs in a row at M = 1, ${prefillRuns} at a prefill's M. Each run uploads x and downloads y ([M, 2048] fp32) through host memory: that is in the time, as are the Concats, Subs and (split-K) ReduceSums, so µs per product is a run's time over its products.`,
      "",
      "| form | M | timed runs | ms per run | µs per product | vs plain at this M | max \\|Δ\\| / max \\|plain\\| |",
      "|---|---:|---:|---:|---:|---:|---:|",
      ...rows.map(
        (r) =>
          `| ${r.form} | ${r.m} | ${r.timedRuns} | ${r.msPerRun.toFixed(2)} | ${r.usPerProduct.toFixed(1)} | ${r.vsPlain.toFixed(2)}× | ${r.relDiffVsPlain.toExponential(1)} |`,
      ),
      "",
      `Where the nodes ran (one profiled run per graph, ORT's profiler; provider asked for: ${provider}):`,
      "",
      ...placements.map(
        (p) =>
          `- ${p.form} at M = ${p.m}: ${Object.entries(p.nodes)
            .map(([key, count]) => `${key} ×${count}`)
            .join(", ")}`,
      ),
      "",
    ].join("\n");
    await mkdir(path.dirname(prefix), { recursive: true });
    await writeFile(
      `${prefix}.json`,
      JSON.stringify(
        {
          benchmark: "gpu-gemv",
          date,
          provider,
          layers,
          products,
          reps,
          runs,
          prefillM,
          prefillRuns,
          rows,
          placements,
        },
        null,
        2,
      ) + "\n",
    );
    await writeFile(`${prefix}.md`, md);
    line(`\n${md}\nwrote ${prefix}.md and ${prefix}.json`);
  } finally {
    await Promise.all(cases.map((c) => c.session.release()));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
