/**
 * npx tsx scripts/gpu/bench.ts --bundle DIR [--bundle DIR …] [--providers webgpu,cpu] [--reps 5] [--prompt 800]
 *                              [--decode 32] [--out PREFIX]
 *
 * Times the engine (lib/model/engine) end to end on each execution provider, as a request uses it: the vision encoder
 * on one 1024×768 image (grid 1×48×64 = 3072 patches → 768 image tokens), prefill of a prompt of --prompt tokens
 * holding that image, then --decode greedy decode steps. Per bundle, one engine per provider is opened and the
 * providers are timed round-robin after one untimed warm-up pass each (its time is reported as "first run": WebGPU
 * compiles its shaders then). Each provider's last logits and tokens are compared with the first provider's, since
 * a fast provider is only useful if it computes the same function.
 *
 * Before timing, every execution provider and `auto` are asked to open the first bundle's embed_tokens graph, and
 * what each said is recorded (on a machine without CUDA 12 the `cuda` row carries ORT's error text).
 *
 * Writes PREFIX.md and PREFIX.json (default bench/results/gpu-webgpu-<date>).
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ONNX_FILES } from "@/lib/model/engine/bundle";
import { argmax } from "@/lib/model/engine/decoderSteps";
import { loadBundle, type Engine } from "@/lib/model/engine/engine";
import {
  EXECUTION_PROVIDERS,
  ExecutionProviderUnavailableError,
  openCandidates,
  type ExecutionProviderChoice,
  type ExecutionProviderName,
  type ProviderFailure,
} from "@/lib/model/engine/executionProvider";
import { patchRowSize } from "@/lib/model/engine/imageFeatures";
import { line, median, textPromptIds } from "../benchSupport";

/** 1024×768 at patch 16: the image bench-vision.ts times, and the one in the PyTorch reference numbers of gpu.md. */
const GRID = { t: 1, h: 48, w: 64 };

const { values } = parseArgs({
  options: {
    bundle: { type: "string", multiple: true },
    providers: { type: "string", default: "webgpu,cpu" },
    reps: { type: "string", default: "5" },
    prompt: { type: "string", default: "800" },
    decode: { type: "string", default: "32" },
    out: { type: "string" },
  },
  strict: true,
});
const bundles = values.bundle ?? [];
const providers = values.providers.split(",") as ExecutionProviderName[];
const reps = Number(values.reps);
const promptTokens = Number(values.prompt);
const decodeSteps = Number(values.decode);
if (
  bundles.length === 0 ||
  providers.some((p) => !EXECUTION_PROVIDERS.includes(p)) ||
  !(reps >= 1 && decodeSteps >= 1)
) {
  process.stderr.write(
    `usage: bench.ts --bundle DIR … [--providers ${EXECUTION_PROVIDERS.join(",")}] [--reps N] [--prompt N] [--decode N] [--out PREFIX]\n`,
  );
  process.exit(2);
}

interface ProbeResult {
  requested: ExecutionProviderChoice;
  /** Providers whose session initialised, in `auto`'s order (the engine's `auto` then times a short request on each). */
  opened: ExecutionProviderName[];
  /** Providers that failed, with ORT's first error line. */
  failures: readonly ProviderFailure[];
}

async function probe(bundleDir: string): Promise<ProbeResult[]> {
  const file = path.join(bundleDir, ONNX_FILES.embedTokens);
  const results: ProbeResult[] = [];
  for (const requested of [...EXECUTION_PROVIDERS, "auto"] as const) {
    try {
      const { candidates, failures } = await openCandidates(requested, file);
      await Promise.all(candidates.map((c) => c.session.release()));
      results.push({ requested, opened: candidates.map((c) => c.factory.executionProvider), failures });
    } catch (error) {
      if (!(error instanceof ExecutionProviderUnavailableError)) throw error;
      results.push({ requested, opened: [], failures: error.failures });
    }
  }
  return results;
}

interface Sample {
  visionMs: number;
  prefillMs: number;
  decodeMs: number;
  logits: Float32Array;
  tokens: number[];
}

/** One request: encode the image, prefill the prompt, decode greedily; the KV caches are released on the way. */
async function runOnce(engine: Engine, pixels: Float32Array, inputIds: number[]): Promise<Sample> {
  let start = performance.now();
  const images = await engine.encodeImages(pixels, [GRID]);
  const visionMs = performance.now() - start;
  const prompt = engine.prepare(inputIds, [GRID]);
  start = performance.now();
  const loop = engine.decodeLoop(prompt, await engine.prefill(prompt, images));
  try {
    const prefillMs = performance.now() - start;
    const logits = loop.logits;
    const tokens: number[] = [];
    start = performance.now();
    for (let i = 0; i < decodeSteps; i++) {
      const token = argmax(loop.logits);
      tokens.push(token);
      await loop.feed(token);
    }
    const decodeMs = performance.now() - start;
    return { visionMs, prefillMs, decodeMs, logits, tokens };
  } finally {
    loop.release();
  }
}

/** vision_start, one pad per image token, vision_end, surrounded by fixed text ids up to `promptTokens`. */
function promptIds(engine: Engine): number[] {
  const cfg = engine.config;
  const imageTokens = (GRID.t * GRID.h * GRID.w) / cfg.vision.spatialMergeSize ** 2;
  const text = promptTokens - imageTokens - 2;
  if (text < 2) throw new Error(`--prompt ${promptTokens} leaves no room for text around ${imageTokens} image tokens`);
  const textIds = textPromptIds(text);
  const before = Math.floor(text / 4);
  return [
    ...textIds.slice(0, before),
    cfg.visionStartTokenId,
    ...Array(imageTokens).fill(cfg.imageTokenId),
    cfg.visionEndTokenId,
    ...textIds.slice(before),
  ];
}

interface Row {
  bundle: string;
  dtype: string;
  provider: ExecutionProviderName;
  loadS: number;
  firstRun: { visionMs: number; prefillMs: number; decodeMs: number };
  visionMs: { median: number; min: number };
  prefillMs: { median: number; min: number };
  decodeTokensPerS: { median: number; max: number };
  /** Against the first provider of this bundle (null for that provider itself). */
  maxAbsLogitDiff: number | null;
  sameTokens: string | null;
  /** The last round's greedy tokens, for comparisons across bundles (fp16 against fp32). */
  tokens: number[];
}

async function benchBundle(dir: string): Promise<Row[]> {
  const engines: { provider: ExecutionProviderName; engine: Engine; loadS: number }[] = [];
  try {
    for (const provider of providers) {
      const start = performance.now();
      const engine = await loadBundle(dir, { executionProvider: provider });
      engines.push({ provider, engine, loadS: (performance.now() - start) / 1000 });
    }
    const { engine: first } = engines[0];
    const patches = GRID.t * GRID.h * GRID.w;
    const pixels = Float32Array.from({ length: patches * patchRowSize(first.config) }, (_, i) => Math.sin(i * 0.618));
    const inputIds = promptIds(first);
    line(
      `${dir} (${first.manifest.dtype}): ${inputIds.length}-token prompt, ${patches} patches, ${decodeSteps} decode steps`,
    );

    const warm: Sample[] = [];
    for (const { provider, engine } of engines) {
      warm.push(await runOnce(engine, pixels, inputIds));
      line(
        `  ${provider} first run: vision ${warm.at(-1)?.visionMs.toFixed(0)} ms, prefill ${warm.at(-1)?.prefillMs.toFixed(0)} ms`,
      );
    }
    const samples: Sample[][] = engines.map(() => []);
    for (let r = 0; r < reps; r++) {
      for (const [i, { engine }] of engines.entries()) samples[i].push(await runOnce(engine, pixels, inputIds));
      line(
        `  round ${r + 1}/${reps}: ${engines.map((e, i) => `${e.provider} ${samples[i][r].visionMs.toFixed(0)}/${samples[i][r].prefillMs.toFixed(0)}/${samples[i][r].decodeMs.toFixed(0)} ms`).join(", ")}`,
      );
    }

    const reference = samples[0][reps - 1];
    return engines.map(({ provider, engine, loadS }, i) => {
      const s = samples[i];
      const last = s[reps - 1];
      const tokensPerS = s.map((x) => (decodeSteps / x.decodeMs) * 1000);
      const firstDiff = last.tokens.findIndex((t, k) => t !== reference.tokens[k]);
      return {
        bundle: dir,
        dtype: engine.manifest.dtype,
        provider,
        loadS,
        firstRun: { visionMs: warm[i].visionMs, prefillMs: warm[i].prefillMs, decodeMs: warm[i].decodeMs },
        visionMs: { median: median(s.map((x) => x.visionMs)), min: Math.min(...s.map((x) => x.visionMs)) },
        prefillMs: { median: median(s.map((x) => x.prefillMs)), min: Math.min(...s.map((x) => x.prefillMs)) },
        decodeTokensPerS: { median: median(tokensPerS), max: Math.max(...tokensPerS) },
        maxAbsLogitDiff:
          i === 0 ? null : last.logits.reduce((m, x, k) => Math.max(m, Math.abs(x - reference.logits[k])), 0),
        sameTokens:
          i === 0 ? null : firstDiff === -1 ? `${decodeSteps}/${decodeSteps}` : `first ${firstDiff}/${decodeSteps}`,
        tokens: last.tokens,
      };
    });
  } finally {
    for (const { engine } of engines) await engine.release();
  }
}

function markdown(rows: Row[], probes: ProbeResult[], date: string): string {
  const f0 = (x: number) => x.toFixed(0);
  const out = [
    `# vlcache engine on GPU (WebGPU) vs CPU, ${date}`,
    "",
    `Host: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}; scripts/gpu/bench.ts, ${reps} timed rounds after one warm-up, ` +
      `providers round-robin. Request: one 1024×768 image (3072 patches → 768 image tokens), ${promptTokens}-token prompt, ${decodeSteps} greedy decode steps.`,
    "",
    "| bundle | dtype | provider | load s | vision ms median (min) | prefill ms median (min) | TTFT ms | decode tok/s median (max) | first run vision / prefill ms | max abs Δ logits vs first provider | greedy tokens same |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...rows.map(
      (r) =>
        `| ${path.basename(r.bundle)} | ${r.dtype} | ${r.provider} | ${r.loadS.toFixed(1)} | ${f0(r.visionMs.median)} (${f0(r.visionMs.min)}) | ` +
        `${f0(r.prefillMs.median)} (${f0(r.prefillMs.min)}) | ${f0(r.visionMs.median + r.prefillMs.median)} | ` +
        `${r.decodeTokensPerS.median.toFixed(1)} (${r.decodeTokensPerS.max.toFixed(1)}) | ${f0(r.firstRun.visionMs)} / ${f0(r.firstRun.prefillMs)} | ` +
        `${r.maxAbsLogitDiff === null ? "-" : r.maxAbsLogitDiff.toExponential(2)} | ${r.sameTokens ?? "-"} |`,
    ),
    "",
    "Execution providers asked to open embed_tokens.onnx:",
    "",
    "| requested | opened | failures |",
    "| --- | --- | --- |",
    ...probes.map(
      (p) =>
        `| ${p.requested} | ${p.opened.join(", ") || "none"} | ${p.failures.map((f) => `${f.provider}: ${f.reason.replaceAll("|", "\\|")}`).join("; ") || "-"} |`,
    ),
    "",
  ];
  return out.join("\n");
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  const probes = await probe(bundles[0]);
  for (const p of probes)
    line(
      `provider ${p.requested}: ${p.opened.join(", ") || "none"}${p.failures.map((f) => `; ${f.provider} failed: ${f.reason}`).join("")}`,
    );
  const prefix = values.out ?? path.join("bench/results", `gpu-webgpu-${date.slice(0, 10)}`);
  await mkdir(path.dirname(prefix), { recursive: true });
  const host = { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadAverage: os.loadavg() };
  const rows: Row[] = [];
  // Written after each bundle, so a run cut short by a time limit still leaves the bundles it finished.
  for (const dir of bundles) {
    rows.push(...(await benchBundle(dir)));
    const md = markdown(rows, probes, date);
    await writeFile(
      `${prefix}.json`,
      JSON.stringify(
        { benchmark: "gpu-webgpu", date, host, reps, promptTokens, decodeSteps, grid: GRID, probes, rows },
        null,
        2,
      ) + "\n",
    );
    await writeFile(`${prefix}.md`, md);
    line(`\n${md}\nwrote ${prefix}.md and ${prefix}.json`);
  }
}

await main();
