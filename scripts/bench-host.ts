/**
 * npx tsx scripts/bench-host.ts --bundle DIR [--n 5] [--steps 32] [--features-on-device on|off] [--out bench/results]
 *
 * The host (CPU/JS) share of serving one request, on this machine, at the bundle's sizes: on the CPU provider unless
 * EXECUTION_PROVIDER names another (on the GPU machine: `device.sh run host`, WebGPU). Give it a bundle of the 2b
 * preset's text width and vocabulary (hidden 2048, 151,936 logits; on the CPU its depth does not change the host
 * work, so a shallow one converted from a config with fewer layers does):
 *   cold path    per round a fresh tenant uploads the 1024×768 noise image and asks the question gpu/bench-vs-hf.ts
 *                asks (benchSupport.ts: noiseImage, COLD_QUESTION; ≈ 800 prompt tokens) through the real pipeline
 *                (L1 and L2 on, L3 off; in-process store); the request's stages before its first token
 *                (lib/stageTimes.ts). The host stages are plan, image_decode, preprocess, embed, prefill_inputs
 *                and what no stage accounts for; vision and prefill_run are model runs, shown for scale.
 *                `--features-on-device` picks the feature path (default on: the GPU's).
 *   decode step  greedy steps after an 800-token text prompt: the time of `DecodeLoop.feed` against the ORT session
 *                runs inside it (their difference is the engine's host work per step: feeds, logits, KV wrapping),
 *                and the pipeline's per-token work on the step's real logits: choosing the token (greedy; sampled with
 *                temperature 0.7, top-k 20, top-p 0.8, repetition penalty 1.05 over the 800-token context) and its text.
 * Medians over rounds / steps. Prints a table and writes bench/results/host-<time>.md and .json; progress on stderr.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { openStore } from "@/lib/cache/store/openStore";
import { loadConfig } from "@/lib/config";
import type { TenantId } from "@/lib/ids";
import { CompletionText } from "@/lib/inference/completionText";
import { loadInferenceModel, type InferenceModel } from "@/lib/inference/inferenceModel";
import { createLogger } from "@/lib/log";
import { TokenSampler } from "@/lib/model/sampling/tokenSampler";
import { createProgress } from "@/lib/progress";
import { storeImage } from "@/lib/server/images";
import { recordStages } from "@/lib/stageTimes";
import {
  benchPipeline,
  COLD_QUESTION,
  line,
  median,
  medianStages,
  noiseImage,
  stageBreakdown,
  textPromptIds,
  type ColdStage,
} from "./benchSupport";

const { values: args } = parseArgs({
  options: {
    bundle: { type: "string" },
    n: { type: "string", default: "5" },
    steps: { type: "string", default: "32" },
    "features-on-device": { type: "string", default: "on" },
    out: { type: "string", default: "bench/results" },
  },
});

const log = (text: string) => process.stderr.write(`[bench-host] ${text}\n`);

/**
 * Milliseconds spent inside ORT session runs since this was called (every session: embed, decoder, small graphs), by
 * wrapping the session prototype's `run`.
 */
function sessionRunClock(): () => number {
  // onnxruntime-common exports the session class under a factory type; every session's `run` is its prototype's.
  const proto = (ort.InferenceSession as unknown as { prototype: { run: (...a: unknown[]) => Promise<unknown> } })
    .prototype;
  const run = proto.run;
  let totalMs = 0;
  proto.run = async function (this: unknown, ...runArgs: unknown[]) {
    const started = performance.now();
    try {
      return await run.apply(this, runArgs);
    } finally {
      totalMs += performance.now() - started;
    }
  };
  return () => totalMs;
}

/** One cold request per round; the medians of its stages before (and after) its first token. */
async function coldPath(model: InferenceModel, rounds: number): Promise<{ stages: ColdStage[]; ttftMs: number }> {
  const logger = createLogger("silent");
  const config = loadConfig({ ...process.env, EMBEDDED_STORE: "memory", MEMORY_STORE_MAX_BYTES: String(2 ** 32) });
  const opened = await openStore(config, logger);
  try {
    const { pipeline } = benchPipeline(model, opened.store, config.caches, logger);
    const png = await noiseImage();
    const ask = async (name: string) => {
      const tenant = name as TenantId;
      const stored = await storeImage(png, { store: opened.store, logger, config }, tenant);
      if (!stored.ok) throw new Error(stored.error.message);
      const content = [
        { type: "image" as const, imageId: stored.answer.imageId },
        { type: "text" as const, text: COLD_QUESTION },
      ];
      const recording = recordStages();
      const askedAt = performance.now();
      let ttftMs: number | null = null;
      for await (const event of pipeline.generate({
        messages: [{ role: "user", content }],
        maxNewTokens: 1,
        cache: { l1: true, l2: true, l3: false },
        tenant,
      }))
        if (event.type === "done") ttftMs = event.timings.ttftMs;
      if (ttftMs === null) throw new Error("the cold request ended without a first token");
      return { ttftMs, stages: stageBreakdown(recording.stop(), askedAt, ttftMs) };
    };
    // One unmeasured request: the sessions' first runs at these shapes.
    await ask("warm");
    const runs: { ttftMs: number; stages: ColdStage[] }[] = [];
    const progress = createProgress("cold path", rounds, { unit: "items" });
    for (let round = 0; round < rounds; round++) {
      runs.push(await ask(`round-${round}`));
      progress.update(round + 1);
    }
    progress.finish();
    return { ttftMs: median(runs.map((r) => r.ttftMs)), stages: medianStages(runs.map((r) => r.stages)) };
  } finally {
    await opened.close();
  }
}

interface StepRow {
  readonly work: string;
  readonly medianUs: number;
}

/**
 * Greedy decode steps after an 800-token text prompt, split into ORT runs, the engine's host work and the pipeline's.
 */
async function decodeSteps(model: InferenceModel, steps: number, sessionMs: () => number): Promise<StepRow[]> {
  const engine = model.engine;
  const ids = textPromptIds(800);
  const prompt = engine.prepare(ids);
  const loop = engine.decodeLoop(prompt, await engine.prefill(prompt, []));
  const sequence = [...ids];
  const greedy = new TokenSampler({ temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 });
  const sampled = new TokenSampler({ temperature: 0.7, topK: 20, topP: 0.8, repetitionPenalty: 1.05, seed: 0 });
  const text = new CompletionText((t) => model.tokenizer.decode(t, { skipSpecialTokens: true }), new Set(), []);
  const samples: Record<string, number[]> = {
    "feed: ORT session runs": [],
    "feed: engine host work (feeds, logits, KV)": [],
    "greedy token (argmax)": [],
    "sampled token (rep. penalty, temperature, top-k, top-p)": [],
    "token text (CompletionText.push)": [],
  };
  const timeUs = (into: string, work: () => void) => {
    const started = performance.now();
    work();
    samples[into].push((performance.now() - started) * 1000);
  };
  const progress = createProgress("decode steps", steps + 1, { unit: "items" });
  try {
    for (let s = 0; s <= steps; s++) {
      let token = 0;
      timeUs("greedy token (argmax)", () => (token = greedy.next(loop.logits, sequence)));
      timeUs("sampled token (rep. penalty, temperature, top-k, top-p)", () => sampled.next(loop.logits, sequence));
      timeUs("token text (CompletionText.push)", () => text.push(token));
      sequence.push(token);
      const ortBefore = sessionMs();
      const started = performance.now();
      await loop.feed(token);
      const feedMs = performance.now() - started;
      const ortMs = sessionMs() - ortBefore;
      // The first step runs the decoder at a new shape; keep it out of the medians.
      if (s === 0) for (const list of Object.values(samples)) list.length = 0;
      else {
        samples["feed: ORT session runs"].push(ortMs * 1000);
        samples["feed: engine host work (feeds, logits, KV)"].push((feedMs - ortMs) * 1000);
      }
      progress.update(s + 1);
    }
  } finally {
    progress.finish();
    loop.release();
  }
  return Object.entries(samples).map(([work, us]) => ({ work, medianUs: median(us) }));
}

async function main(): Promise<void> {
  const bundle = args.bundle;
  const rounds = Number(args.n);
  const steps = Number(args.steps);
  const onDevice = args["features-on-device"];
  if (!bundle || !(rounds >= 1) || !(steps >= 1) || !["on", "off"].includes(onDevice)) {
    throw new Error(
      "usage: bench-host --bundle DIR [--n 5] [--steps 32] [--features-on-device on|off] [--out bench/results]",
    );
  }
  const sessionMs = sessionRunClock();
  log(`loading ${bundle}`);
  const config = loadConfig(process.env);
  const model = await loadInferenceModel(path.resolve(bundle), {
    executionProvider: process.env.EXECUTION_PROVIDER ? config.executionProvider : "cpu",
    webgpuBufferCache: config.webgpuBufferCache,
    imageFeaturesOnDevice: onDevice === "on",
  });
  const text = model.engine.config.text;
  const context = {
    bundle,
    hidden: text.hiddenSize,
    vocab: text.vocabSize,
    layers: text.numHiddenLayers,
    provider: model.engine.executionProvider,
    featuresOnDevice: model.engine.imageFeaturesOnDevice,
    rounds,
    steps,
    node: process.version,
  };
  log(JSON.stringify(context));
  try {
    const cold = await coldPath(model, rounds);
    const decode = await decodeSteps(model, steps, sessionMs);
    const md = [
      `# Host work of a request (${new Date().toISOString()})`,
      "",
      `Bundle ${bundle}: hidden ${context.hidden}, vocabulary ${context.vocab}, ${context.layers} decoder layers; ` +
        `${context.provider} provider; image features to prefill ${context.featuresOnDevice ? "from device memory" : "through host memory"}.`,
      "",
      `## Cold request (1024×768 PNG, ≈ 800 prompt tokens): median of ${rounds}, TTFT ${cold.ttftMs.toFixed(1)} ms`,
      "",
      "| stage | before 1st token ms | after ms |",
      "|---|---:|---:|",
      ...cold.stages.map(
        (s) => `| ${s.stage} | ${s.before_first_token_ms.toFixed(2)} | ${s.after_first_token_ms.toFixed(2)} |`,
      ),
      "",
      `## One decode step at 800 context tokens: median of ${steps}`,
      "",
      "| work | µs |",
      "|---|---:|",
      ...decode.map((r) => `| ${r.work} | ${r.medianUs.toFixed(0)} |`),
      "",
    ].join("\n");
    line(md);
    await mkdir(args.out, { recursive: true });
    const stem = path.join(args.out, `host-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    await writeFile(`${stem}.md`, md);
    await writeFile(`${stem}.json`, `${JSON.stringify({ context, cold, decode }, null, 2)}\n`);
    log(`wrote ${stem}.md and .json`);
  } finally {
    await model.release();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
