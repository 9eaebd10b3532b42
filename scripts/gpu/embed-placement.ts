/**
 * node embed-placement.mjs --bundle DIR [--provider webgpu] [--steps 32] [--rounds 3] --out PREFIX
 *
 * Where embed_tokens should run when the decoder runs on a GPU provider: on that provider (a device round trip per
 * run: ids up, rows down) or on the CPU (the engine's choice, bundle.ts). One decoder session on --provider, KV in
 * device memory as the engine keeps it, and the bundle's embed_tokens opened on both; per round and placement, a text
 * prompt is prefilled at 800 and at 4,000 tokens and --steps greedy decode steps are timed after one untimed step
 * (as bench-vs-hf.ts times decoding), placements alternating. Medians over the rounds; the two placements' first
 * logits are compared too (max |Δ|).
 *
 * Writes PREFIX.json and PREFIX.md.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type * as ort from "onnxruntime-node";
import { bundleManifestSchema, floatTypeOf } from "@/lib/model/bundleManifest";
import { parseQwen3VLConfig } from "@/lib/model/config";
import { ONNX_FILES, presentOutputNames } from "@/lib/model/engine/bundle";
import { DecodeLoop } from "@/lib/model/engine/decodeLoop";
import { decodeStep, prefill, preparePrompt, type DecoderSessions } from "@/lib/model/engine/decoderSteps";
import { providerSessionFactory, type ExecutionProviderName } from "@/lib/model/engine/executionProvider";
import { emptyKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import { maxAbsDiff } from "@/lib/model/parity/compare";
import { median, textPromptIds } from "../benchSupport";

const CONTEXTS = [800, 4000];

const { values } = parseArgs({
  options: {
    bundle: { type: "string" },
    provider: { type: "string", default: "webgpu" },
    steps: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" },
    out: { type: "string" },
  },
  strict: true,
});

interface Sample {
  prefillMs: number;
  tokPerS: number;
  firstLogits: Float32Array;
}

async function sample(s: DecoderSessions, context: number, steps: number): Promise<Sample> {
  const ids = textPromptIds(context);
  const prompt = preparePrompt(s.config, ids, []);
  const stepper = { decodeStep: (t: number, past: KvCache, d: number) => decodeStep(s, t, past, d) };
  let started = performance.now();
  const first = await prefill(s, prompt, [], emptyKvCache(s.config.text, s.floatType));
  const prefillMs = performance.now() - started;
  const loop = new DecodeLoop(stepper, prompt.positions.ropeDelta, first);
  try {
    const advance = () => loop.feed(1000 + (loop.length % 50000));
    await advance();
    started = performance.now();
    for (let i = 0; i < steps; i++) await advance();
    return { prefillMs, tokPerS: steps / ((performance.now() - started) / 1000), firstLogits: first.logits };
  } finally {
    loop.release();
  }
}

async function main(): Promise<void> {
  const steps = Number(values.steps);
  const rounds = Number(values.rounds);
  if (values.bundle === undefined || values.out === undefined || !(steps >= 1 && rounds >= 1)) {
    throw new Error(
      "usage: embed-placement.ts --bundle DIR [--provider webgpu] [--steps 32] [--rounds 3] --out PREFIX",
    );
  }
  const dir = values.bundle;
  const provider = values.provider as ExecutionProviderName;
  const config = parseQwen3VLConfig(JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")));
  const manifest = bundleManifestSchema.parse(JSON.parse(await readFile(path.join(dir, "vlcache.json"), "utf8")));
  const gpu = providerSessionFactory(provider);
  const placements: { name: string; factory: typeof gpu }[] = [
    { name: `embed_tokens on ${provider}`, factory: gpu },
    { name: "embed_tokens on cpu (the engine's)", factory: providerSessionFactory("cpu") },
  ];
  const opened: ort.InferenceSession[] = [];
  try {
    const decoder = await gpu.open(path.join(dir, ONNX_FILES.decoder), {
      outputsOnDevice: presentOutputNames(config.text.numHiddenLayers),
    });
    opened.push(decoder);
    const sessions: DecoderSessions[] = [];
    for (const p of placements) {
      const embedTokens = await p.factory.open(path.join(dir, ONNX_FILES.embedTokens));
      opened.push(embedTokens);
      sessions.push({
        embedTokens,
        decoder,
        config,
        floatType: floatTypeOf(manifest.dtype),
        deepstack: config.vision.deepstackVisualIndexes.length > 0,
      });
    }
    const samples = new Map<string, Sample[]>();
    for (let r = 0; r <= rounds; r++) {
      for (const context of CONTEXTS) {
        for (const [i, s] of sessions.entries()) {
          const result = await sample(s, context, steps);
          // Round 0 warms up (shader compilation, first allocations at each length).
          if (r === 0) continue;
          const key = `${i}/${context}`;
          samples.set(key, [...(samples.get(key) ?? []), result]);
          process.stderr.write(
            `[embed-placement] round ${r}, ${context} tokens, ${placements[i].name}: prefill ${result.prefillMs.toFixed(0)} ms, decode ${result.tokPerS.toFixed(1)} tok/s\n`,
          );
        }
      }
    }
    const rows = CONTEXTS.flatMap((context) =>
      placements.map((p, i) => {
        const runs = samples.get(`${i}/${context}`) ?? [];
        return {
          placement: p.name,
          context,
          prefillMs: median(runs.map((x) => x.prefillMs)),
          decodeTokPerS: median(runs.map((x) => x.tokPerS)),
        };
      }),
    );
    const logitsDiff = Math.max(
      ...CONTEXTS.map((c) => maxAbsDiff(samples.get(`0/${c}`)![0].firstLogits, samples.get(`1/${c}`)![0].firstLogits)),
    );
    const md = [
      `# Where embed_tokens runs, decoder on ${provider}: ${dir}`,
      "",
      `Text prompts, medians of ${rounds} rounds (placements alternating, after one warm-up round); decode: ${steps} greedy steps after one untimed step.`,
      "",
      "| placement | context tokens | prefill ms | decode tok/s |",
      "|---|---:|---:|---:|",
      ...rows.map(
        (r) => `| ${r.placement} | ${r.context} | ${r.prefillMs.toFixed(1)} | ${r.decodeTokPerS.toFixed(1)} |`,
      ),
      "",
      `First logits of the two placements: max |Δ| ${logitsDiff.toExponential(2)}.`,
      "",
    ].join("\n");
    await writeFile(
      `${values.out}.json`,
      JSON.stringify({ bundle: dir, provider, steps, rounds, rows, logitsDiff }, null, 2),
    );
    await writeFile(`${values.out}.md`, md);
    process.stdout.write(md);
  } finally {
    await Promise.all(opened.map((s) => s.release()));
  }
}

await main();
