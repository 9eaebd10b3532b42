/**
 * node kv-capacity.mjs --bundle DIR [--caches bucket,simple] [--steps 16] [--rounds 2]
 *   [--memory-lengths 3000,3100,…] [--provider webgpu] --out PREFIX
 *
 * Does capacity-padded KV (lib/model/engine/kvPadding.ts) speed up decoding on WebGPU, and under which of ORT's
 * storage buffer caches (executionProvider.ts, `webgpuBufferCache`)? The cache is one setting per process, so each
 * one named in --caches runs in a child process of this script. There, per round (after one warm-up round), a text
 * prompt is prefilled at 800 and at 4,000 tokens and --steps greedy decode steps are timed after one untimed step, with
 * exact and with padded KV alternating on the same sessions; medians over the rounds. The two paths' greedy tokens
 * and logits are compared. Then the GPU memory in use (nvidia-smi, the whole device) is read after prefills and a
 * few decode steps at each of --memory-lengths, prompts of distinct lengths as a server sees them, with the padding
 * the engine would choose under that cache: how GPU memory grows with the shapes seen.
 *
 * Writes PREFIX.json and PREFIX.md. `--provider cpu` tries the script elsewhere (the cache setting then does nothing).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { DecodeLoop } from "@/lib/model/engine/decodeLoop";
import { argmax } from "@/lib/model/engine/decoderSteps";
import { Engine } from "@/lib/model/engine/engine";
import {
  WEBGPU_BUFFER_CACHES,
  type ExecutionProviderName,
  type WebGpuBufferCache,
} from "@/lib/model/engine/executionProvider";
import { kvOpsPadding, type KvPadding } from "@/lib/model/engine/kvPadding";
import { maxAbsDiff } from "@/lib/model/parity/compare";
import { median, textPromptIds } from "../benchSupport";

const CONTEXTS = [800, 4000];
const PATHS = ["exact", "padded"] as const;
type KvPath = (typeof PATHS)[number];

const { values } = parseArgs({
  options: {
    bundle: { type: "string" },
    caches: { type: "string", default: WEBGPU_BUFFER_CACHES.join(",") },
    steps: { type: "string", default: "16" },
    rounds: { type: "string", default: "2" },
    "memory-lengths": { type: "string", default: "3000,3100,3200,3300,3400,3500" },
    provider: { type: "string", default: "webgpu" },
    out: { type: "string" },
    /** Internal: run one cache in this process and write its result to this file. */
    child: { type: "string" },
    cache: { type: "string" },
  },
  strict: true,
});

interface Row {
  readonly context: number;
  readonly path: KvPath;
  readonly decodeTokPerS: number;
  readonly runs: number[];
}

interface CacheResult {
  readonly cache: WebGpuBufferCache;
  readonly rows: Row[];
  /** Per context: whether both paths chose the same greedy tokens, and the largest logit difference. */
  readonly agreement: { context: number; sameTokens: boolean; maxLogitDiff: number }[];
  readonly memory: { afterLoadMiB: number | null; afterDecodeMiB: number | null; afterPrompts: MemoryPoint[] };
}

interface MemoryPoint {
  readonly promptTokens: number;
  readonly usedMiB: number | null;
}

/** MiB in use on the GPU (the whole device), or null where nvidia-smi is missing. */
function gpuMemoryMiB(): number | null {
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=memory.used", "--format=csv,noheader,nounits"], {
      encoding: "utf8",
    });
    return Number(out.split("\n")[0].trim());
  } catch {
    return null;
  }
}

interface Sample {
  tokPerS: number;
  tokens: number[];
  logits: Float32Array[];
}

async function sample(engine: Engine, context: number, steps: number, padding: KvPadding | null): Promise<Sample> {
  const ids = textPromptIds(context);
  const prompt = engine.prepare(ids);
  const loop = new DecodeLoop(engine, prompt.positions.ropeDelta, await engine.prefill(prompt, []), padding);
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  const advance = async () => {
    tokens.push(argmax(loop.logits));
    await loop.feed(tokens[tokens.length - 1]);
    logits.push(loop.logits);
  };
  try {
    await advance();
    const started = performance.now();
    for (let i = 0; i < steps; i++) await advance();
    return { tokPerS: steps / ((performance.now() - started) / 1000), tokens, logits };
  } finally {
    loop.release();
  }
}

async function measureCache(dir: string, cache: WebGpuBufferCache, steps: number, rounds: number) {
  const engine = await Engine.load(dir, {
    executionProvider: values.provider as ExecutionProviderName,
    webgpuBufferCache: cache,
    kvPadding: false,
  });
  try {
    const afterLoadMiB = gpuMemoryMiB();
    const paddings: Record<KvPath, KvPadding | null> = { exact: null, padded: kvOpsPadding(engine.kvOps) };
    const samples = new Map<string, Sample[]>();
    for (let r = 0; r <= rounds; r++) {
      for (const context of CONTEXTS) {
        // Alternate which path goes first, so neither always runs right after the other's frees.
        const order = r % 2 === 0 ? PATHS : [...PATHS].reverse();
        for (const p of order) {
          // Each round's prompt is longer than the last one's prompt + steps: no round finds the exact KV sizes of
          // an earlier one in `simple`'s pool.
          const result = await sample(engine, context + r * (steps + 2), steps, paddings[p]);
          process.stderr.write(
            `[kv-capacity] ${cache}, round ${r}${r === 0 ? " (warm-up)" : ""}, ${context} tokens, ${p}: ${result.tokPerS.toFixed(1)} tok/s\n`,
          );
          if (r === 0) continue;
          const key = `${context}/${p}`;
          samples.set(key, [...(samples.get(key) ?? []), result]);
        }
      }
    }
    const afterDecodeMiB = gpuMemoryMiB();
    const rows: Row[] = CONTEXTS.flatMap((context) =>
      PATHS.map((p) => {
        const runs = samples.get(`${context}/${p}`)!.map((s) => s.tokPerS);
        return { context, path: p, decodeTokPerS: median(runs), runs };
      }),
    );
    const agreement = CONTEXTS.map((context) => {
      const [exact, padded] = PATHS.map((p) => samples.get(`${context}/${p}`)![0]);
      return {
        context,
        sameTokens: exact.tokens.join() === padded.tokens.join(),
        maxLogitDiff: Math.max(...exact.logits.map((l, i) => maxAbsDiff(l, padded.logits[i]))),
      };
    });
    const lengths = values["memory-lengths"]!.split(",").map(Number);
    const enginePadding = cache === "simple" ? paddings.padded : null;
    const afterPrompts: MemoryPoint[] = [];
    for (const promptTokens of lengths) {
      await sample(engine, promptTokens, 4, enginePadding);
      afterPrompts.push({ promptTokens, usedMiB: gpuMemoryMiB() });
      process.stderr.write(
        `[kv-capacity] ${cache}, after a ${promptTokens}-token prompt: ${afterPrompts.at(-1)!.usedMiB} MiB\n`,
      );
    }
    return { cache, rows, agreement, memory: { afterLoadMiB, afterDecodeMiB, afterPrompts } };
  } finally {
    await engine.release();
  }
}

function report(dir: string, steps: number, rounds: number, results: CacheResult[]): string {
  const tok = (cache: CacheResult, context: number, p: KvPath) =>
    cache.rows.find((r) => r.context === context && r.path === p)!.decodeTokPerS;
  return [
    `# Capacity-padded KV on WebGPU: ${dir}`,
    "",
    `Decode tok/s, medians of ${rounds} rounds after a warm-up round; ${steps} greedy steps after one untimed step; exact`,
    "and padded KV alternating on the same sessions; one process per storage buffer cache. Round r's prompts are",
    `r · ${steps + 2} tokens longer than the context named, so no round meets the exact KV sizes of an earlier one.`,
    "",
    "| buffer cache | context tokens | exact KV | padded KV | padded / exact |",
    "|---|---:|---:|---:|---:|",
    ...results.flatMap((c) =>
      CONTEXTS.map(
        (context) =>
          `| ${c.cache} | ${context} | ${tok(c, context, "exact").toFixed(1)} | ${tok(c, context, "padded").toFixed(1)} | ${(tok(c, context, "padded") / tok(c, context, "exact")).toFixed(2)} |`,
      ),
    ),
    "",
    "Padded against exact, first round: " +
      results
        .flatMap((c) =>
          c.agreement.map(
            (a) =>
              `${c.cache} ${a.context}: ${a.sameTokens ? "same tokens" : "tokens DIFFER"}, logits max |Δ| ${a.maxLogitDiff.toExponential(2)}`,
          ),
        )
        .join("; ") +
      ".",
    "",
    "GPU memory in use (MiB, whole device): after loading, after the decode rounds, then after a prompt of each length",
    "(prefill + 4 decode steps, KV padded under `simple` as the engine does there, exact under `bucket`):",
    "",
    "| buffer cache | loaded | after decoding | " +
      results[0].memory.afterPrompts.map((m) => `${m.promptTokens}`).join(" | ") +
      " |",
    "|---|---:|---:|" + results[0].memory.afterPrompts.map(() => "---:").join("|") + "|",
    ...results.map(
      (c) =>
        `| ${c.cache} | ${c.memory.afterLoadMiB} | ${c.memory.afterDecodeMiB} | ${c.memory.afterPrompts.map((m) => m.usedMiB).join(" | ")} |`,
    ),
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const steps = Number(values.steps);
  const rounds = Number(values.rounds);
  const dir = values.bundle;
  if (dir === undefined || !(steps >= 1 && rounds >= 1)) {
    throw new Error(
      "usage: kv-capacity.ts --bundle DIR [--caches bucket,simple] [--steps N] [--rounds N] --out PREFIX",
    );
  }
  if (values.child !== undefined) {
    const result = await measureCache(dir, values.cache as WebGpuBufferCache, steps, rounds);
    await writeFile(values.child, JSON.stringify(result));
    return;
  }
  if (values.out === undefined) throw new Error("kv-capacity: --out PREFIX is required");
  const caches = values.caches.split(",") as WebGpuBufferCache[];
  const unknown = caches.filter((c) => !WEBGPU_BUFFER_CACHES.includes(c));
  if (unknown.length > 0) throw new Error(`kv-capacity: unknown buffer caches ${unknown.join(", ")}`);
  const tmp = await mkdtemp(path.join(tmpdir(), "kv-capacity-"));
  try {
    const results: CacheResult[] = [];
    for (const cache of caches) {
      const file = path.join(tmp, `${cache}.json`);
      const args = process.argv.slice(2).filter((a) => a !== "--out" && a !== values.out);
      // A fresh process: ORT applies the first WebGPU session's buffer cache to every later one.
      execFileSync(
        process.execPath,
        [...process.execArgv, process.argv[1], ...args, "--cache", cache, "--child", file],
        {
          stdio: ["ignore", "inherit", "inherit"],
        },
      );
      results.push(JSON.parse(await readFile(file, "utf8")) as CacheResult);
    }
    const md = report(dir, steps, rounds, results);
    await writeFile(`${values.out}.json`, JSON.stringify({ bundle: dir, steps, rounds, results }, null, 2));
    await writeFile(`${values.out}.md`, md);
    process.stdout.write(md);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
