/**
 * The GPU comparison of vlcache with HF transformers on the same weights (scripts/gpu/README.md runs it):
 *
 *   node bench-vs-hf.mjs measure --bundle DIR --system NAME --out ROWS.json [--n 5] [--decode 32 (0: none)]
 *                                [--image-out PNG]
 *     vlcache over one bundle through the real pipeline (lib/inference, L1 and L2 on, L3 off, in-process store) on
 *     $EXECUTION_PROVIDER (default webgpu): per round a fresh tenant asks about a 1024×768 image (cold), asks a new
 *     question about the same image in a new chat, then follows up in the first chat; plus greedy decoding speed at 800
 *     and 4,000 context tokens (engine steps on a text prompt), peak GPU memory (nvidia-smi, above the level before
 *     the bundle was opened), and the GPU-memory check of the issue: after 100 requests cancelled at their first
 *     token, device KV beyond what L2 stores must be zero, and zero once L2 is flushed. The row file also holds where
 *     the cold request's time went, stage by stage (lib/stageTimes.ts), before and after its first token. --image-out
 *     writes the PNG bytes the requests sent, for bench_hf.py's --image: the HF rows decode and process the same file.
 *   node bench-vs-hf.mjs image --out PNG
 *     writes those PNG bytes alone (benchSupport's noiseImage, the same in every run), when no measure ran before.
 *   node bench-vs-hf.mjs report --rows A.json --rows B.json … --out PREFIX
 *     joins the rows (bench_hf.py writes the HF ones in the same shape) into PREFIX.json — {"device", "rows":
 *     [{system, vision_ms, ttft_cold_ms, ttft_same_image_ms, ttft_followup_ms, decode_tok_s_800, decode_tok_s_4000,
 *     peak_gpu_mb}]}, the HF rows with their model-only times as extra fields — and PREFIX.md: the table, the HF
 *     rows' end-to-end against model-only times, each vlcache row's ratios to HF eager of the same dtype against the
 *     issue's targets, and the checks.
 * Medians over the rounds. Progress lines go to stderr.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { l2Namespace } from "@/lib/cache/keys";
import { openStore } from "@/lib/cache/store/openStore";
import { loadConfig } from "@/lib/config";
import type { TenantId } from "@/lib/ids";
import type { GenerationEvent } from "@/lib/inference/events";
import { loadInferenceModel, type InferenceModel } from "@/lib/inference/inferenceModel";
import { InferencePipeline } from "@/lib/inference/pipeline";
import type { GenerationRequestInput } from "@/lib/inference/request";
import { createLogger } from "@/lib/log";
import { visionEncoderRuns } from "@/lib/metrics/cacheMetrics";
import type { ExecutionProviderChoice } from "@/lib/model/engine/executionProvider";
import { liveDeviceImageFeatures } from "@/lib/model/engine/imageFeatures";
import { liveDeviceKvBytes, liveKvBytes } from "@/lib/model/engine/kvCache";
import { recordStages } from "@/lib/stageTimes";
import { storeImage } from "@/lib/server/images";
import {
  benchPipeline,
  COLD_QUESTION,
  median,
  medianStages,
  noiseImage,
  stageBreakdown,
  textPromptIds,
  type ColdStage,
} from "../benchSupport";

/** The contract's row (issue: GPU benchmark). */
export interface VsHfRow {
  system: "vlcache-webgpu-fp32" | "vlcache-webgpu-fp16" | "hf-eager-fp32" | "hf-eager-bf16";
  vision_ms: number | null;
  ttft_cold_ms: number | null;
  ttft_same_image_ms: number | null;
  ttft_followup_ms: number | null;
  decode_tok_s_800: number | null;
  decode_tok_s_4000: number | null;
  peak_gpu_mb: number | null;
  /**
   * HF rows only (bench_hf.py): their ttft_* fields time the whole request from the PNG's bytes (decode, image
   * processor, forward), as vlcache's do; these time the forward alone, from pixel values already on the GPU.
   */
  ttft_cold_model_ms?: number | null;
  ttft_same_image_model_ms?: number | null;
  ttft_followup_model_ms?: number | null;
  /** HF rows only: the PNG decode and the image processor alone. */
  image_preprocess_ms?: number | null;
}

/** What a measuring run adds beside its row (for the .md only). */
interface RowFile {
  row: VsHfRow;
  notes: string[];
  /** Where the cold request's time went (vlcache rows). */
  cold_stages?: ColdStage[];
  /** Whether a request's fresh image features went to prefill from device memory (vlcache rows). */
  features_on_device?: boolean;
  /** The first round's cold answer (vlcache rows; the image is the same in every run). */
  cold_tokens?: number[];
  /** SHA-256 of the PNG bytes the row's requests sent (vlcache) or read (HF): equal when both measured one image. */
  image_sha256?: string | null;
}

const { positionals, values: args } = parseArgs({
  allowPositionals: true,
  options: {
    bundle: { type: "string" },
    system: { type: "string" },
    out: { type: "string" },
    rows: { type: "string", multiple: true, default: [] },
    n: { type: "string", default: "5" },
    decode: { type: "string", default: "32" },
    cancelled: { type: "string", default: "100" },
    "features-on-device": { type: "string", default: "auto" },
    "image-out": { type: "string" },
  },
});

const log = (line: string) => process.stderr.write(`[bench-vs-hf] ${line}\n`);

/** Samples the GPU's used memory every 100 ms (nvidia-smi); `peakMb()` is the highest sample above `baseMb`. */
function gpuMemorySampler(): { peakAboveStartMb(): number | null; stop(): void } {
  const samples: number[] = [];
  let child: ReturnType<typeof spawn> | null = null;
  try {
    child = spawn("nvidia-smi", ["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "100"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    child.on("error", () => {});
    child.stdout?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n"))
        if (line.trim() !== "") samples.push(Number(line.trim().split(",")[0]));
    });
  } catch {
    child = null;
  }
  return {
    peakAboveStartMb: () => (samples.length < 2 ? null : Math.max(...samples) - samples[0]),
    stop: () => child?.kill(),
  };
}

type Messages = GenerationRequestInput["messages"];

async function ask(
  pipeline: InferencePipeline,
  tenant: TenantId,
  messages: Messages,
  maxNewTokens: number,
): Promise<{ ttftMs: number; visionMs: number; text: string; tokenIds: readonly number[] }> {
  const events: GenerationEvent[] = [];
  for await (const event of pipeline.generate({
    messages,
    maxNewTokens,
    cache: { l1: true, l2: true, l3: false },
    tenant,
  }))
    events.push(event);
  const done = events.at(-1);
  if (done?.type !== "done" || done.timings.ttftMs === null) throw new Error("a request ended without a first token");
  const text = events.map((event) => (event.type === "token" ? event.text : "")).join("");
  return { ttftMs: done.timings.ttftMs, visionMs: done.timings.visionMs, text, tokenIds: done.tokenIds };
}

async function encoderRuns(): Promise<number> {
  return (await visionEncoderRuns.get()).values.reduce((sum, value) => sum + value.value, 0);
}

/** Greedy decode speed after a text prompt of `context` tokens (ids away from the special tokens). */
async function decodeTokensPerSecond(model: InferenceModel, context: number, steps: number): Promise<number> {
  const engine = model.engine;
  const ids = textPromptIds(context);
  const prompt = engine.prepare(ids);
  const loop = engine.decodeLoop(prompt, await engine.prefill(prompt, []));
  try {
    const advance = () => loop.feed(1000 + (loop.length % 50000));
    // One untimed step: its kernels' first run at this length.
    await advance();
    const started = performance.now();
    for (let s = 0; s < steps; s++) await advance();
    return steps / ((performance.now() - started) / 1000);
  } finally {
    loop.release();
  }
}

async function measure(): Promise<void> {
  const bundle = args.bundle;
  const system = args.system as VsHfRow["system"] | undefined;
  const out = args.out;
  const rounds = Number(args.n);
  const steps = Number(args.decode);
  const cancelled = Number(args.cancelled);
  if (!bundle || !system || !out || !(rounds >= 1) || !(steps >= 0) || !(cancelled >= 0)) {
    throw new Error(
      "usage: bench-vs-hf measure --bundle DIR --system NAME --out ROWS.json [--n 5] [--decode 32 (0: none)] [--cancelled 100]",
    );
  }
  const memory = gpuMemorySampler();
  await new Promise((resolve) => setTimeout(resolve, 400));
  const notes: string[] = [];
  const logger = createLogger("silent");
  const config = loadConfig({ ...process.env, EMBEDDED_STORE: "memory", MEMORY_STORE_MAX_BYTES: String(8 * 2 ** 30) });
  const opened = await openStore(config, logger);
  // The engine's one log line about its provider (with `auto`: each provider's probe time) goes into the notes.
  const selection = createLogger("info", {
    write: (line: string) => {
      const entry = JSON.parse(line) as { msg?: string; requested?: string; why?: string };
      if (entry.msg === "onnxruntime execution provider selected") {
        notes.push(`execution provider: requested ${entry.requested}; ${entry.why}`);
      }
    },
  });
  const featuresOnDevice = args["features-on-device"];
  if (!["auto", "on", "off"].includes(featuresOnDevice))
    throw new Error("--features-on-device takes auto (the engine's default), on or off");
  const model = await loadInferenceModel(path.resolve(bundle), {
    executionProvider: (process.env.EXECUTION_PROVIDER as ExecutionProviderChoice | undefined) ?? "webgpu",
    webgpuBufferCache: config.webgpuBufferCache,
    logger: selection,
    ...(featuresOnDevice === "auto" ? {} : { imageFeaturesOnDevice: featuresOnDevice === "on" }),
  });
  notes.push(
    `image features to prefill: ${model.engine.imageFeaturesOnDevice ? "from device memory" : "through host memory"}`,
  );
  log(`${system}: ${bundle} on ${model.engine.executionProvider}, KV on the device: ${model.engine.kvOnDevice}`);
  if (model.engine.executionProvider === "webgpu") {
    notes.push(`WebGPU buffer cache (WEBGPU_BUFFER_CACHE): ${config.webgpuBufferCache}`);
  }
  log(notes.join("; "));
  const { caches, pipeline } = benchPipeline(model, opened.store, config.caches, logger);
  const png = await noiseImage();
  if (args["image-out"]) await writeFile(args["image-out"], png);
  const row: VsHfRow = {
    system,
    vision_ms: null,
    ttft_cold_ms: null,
    ttft_same_image_ms: null,
    ttft_followup_ms: null,
    decode_tok_s_800: null,
    decode_tok_s_4000: null,
    peak_gpu_mb: null,
  };
  let stages: ColdStage[] | undefined;
  let firstColdTokens: number[] | undefined;
  try {
    const tenantWithImage = async (name: string) => {
      const tenant = name as TenantId;
      const stored = await storeImage(png, { store: opened.store, logger, config }, tenant);
      if (!stored.ok) throw new Error(stored.error.message);
      return { tenant, imageId: stored.answer.imageId };
    };
    const user = (imageId: string | null, text: string): Messages[number] => ({
      role: "user",
      content:
        imageId === null
          ? text
          : [
              { type: "image", imageId: imageId as never },
              { type: "text", text },
            ],
    });
    {
      const warm = await tenantWithImage("warm");
      await ask(pipeline, warm.tenant, [user(warm.imageId, COLD_QUESTION)], 2);
      await decodeTokensPerSecond(model, 64, 2);
    }
    const samples = { vision: [] as number[], cold: [] as number[], same: [] as number[], followup: [] as number[] };
    const coldStages: ColdStage[][] = [];
    const coldTokens: string[] = [];
    let repeatVisionRuns = 0;
    for (let round = 0; round < rounds; round++) {
      const { tenant, imageId } = await tenantWithImage(`round-${round}`);
      const recording = recordStages();
      const askedAt = performance.now();
      const cold = await ask(pipeline, tenant, [user(imageId, COLD_QUESTION)], 4);
      coldStages.push(stageBreakdown(recording.stop(), askedAt, cold.ttftMs));
      coldTokens.push(cold.tokenIds.join(","));
      firstColdTokens ??= [...cold.tokenIds];
      samples.cold.push(cold.ttftMs);
      samples.vision.push(cold.visionMs);
      const runsBefore = await encoderRuns();
      samples.same.push(
        (
          await ask(
            pipeline,
            tenant,
            [user(imageId, `Round ${round}: which colour is the tallest bar of the chart?`)],
            4,
          )
        ).ttftMs,
      );
      const followup = [
        user(imageId, COLD_QUESTION),
        { role: "assistant", content: cold.text },
        user(null, `Round ${round}: and what does the status bar say?`),
      ] as Messages;
      samples.followup.push((await ask(pipeline, tenant, followup, 4)).ttftMs);
      repeatVisionRuns += (await encoderRuns()) - runsBefore;
      log(`round ${round + 1}/${rounds}: cold ${cold.ttftMs.toFixed(0)} ms, vision ${cold.visionMs.toFixed(0)} ms`);
    }
    row.vision_ms = median(samples.vision);
    row.ttft_cold_ms = median(samples.cold);
    row.ttft_same_image_ms = median(samples.same);
    row.ttft_followup_ms = median(samples.followup);
    stages = medianStages(coldStages);
    // Every round asks the same question about the same image: one answer, whichever path the features took.
    notes.push(
      `cold answers' tokens: [${coldTokens[0]}]${
        coldTokens.every((t) => t === coldTokens[0])
          ? " in every round"
          : `; other rounds: ${coldTokens
              .slice(1)
              .map((t) => `[${t}]`)
              .join(" ")}`
      }`,
    );
    notes.push(
      `vision-encoder runs on the ${rounds * 2} repeat requests (same image new chat, follow-up): ${repeatVisionRuns}`,
    );

    if (steps > 0) {
      row.decode_tok_s_800 = await decodeTokensPerSecond(model, 800, steps);
      log(`decode at 800: ${row.decode_tok_s_800.toFixed(1)} tok/s`);
      row.decode_tok_s_4000 = await decodeTokensPerSecond(model, 4000, steps);
      log(`decode at 4000: ${row.decode_tok_s_4000.toFixed(1)} tok/s`);
    }

    // GPU memory stays bounded: requests cancelled at their first token leave no KV behind but what L2 stores.
    const { tenant, imageId } = await tenantWithImage("cancelled");
    for (let i = 0; i < cancelled; i++) {
      const messages = [user(imageId, i % 2 === 0 ? COLD_QUESTION : `Question ${i % 7}: what is in the sidebar?`)];
      for await (const event of pipeline.generate({
        messages,
        maxNewTokens: 8,
        cache: { l1: true, l2: i % 3 !== 0, l3: false },
        tenant,
      })) {
        if (event.type === "token") break;
      }
    }
    // A cancelled request finishes its running step after the consumer has left; give the last one time to end.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // A lookup compacts what the last insert left shared (l2PrefixKv.ts); its hit is released at once.
    (await caches.prefix.lookup(l2Namespace(tenant, model.fingerprint), [0]))?.release();
    const l2Bytes = caches.prefix.onDevice ? caches.prefix.totalBytes : 0;
    const beyondL2 = liveDeviceKvBytes() - l2Bytes;
    for (const name of ["warm", "cancelled", ...Array.from({ length: rounds }, (_, r) => `round-${r}`)])
      caches.prefix.forgetTenant(name as TenantId);
    notes.push(
      `after ${cancelled} requests cancelled at their first token: device KV beyond L2's ${(l2Bytes / 2 ** 20).toFixed(0)} MiB ` +
        `= ${beyondL2} bytes; after flushing L2: device KV ${liveDeviceKvBytes()} bytes, all KV ${liveKvBytes()} bytes`,
    );
    notes.push(`encoded images' features left on the device after every request: ${liveDeviceImageFeatures()}`);
    row.peak_gpu_mb = memory.peakAboveStartMb();
  } catch (error) {
    notes.push(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    log(notes.at(-1)!);
  } finally {
    memory.stop();
    await model.release();
    await opened.close();
  }
  const file: RowFile = {
    row,
    notes,
    features_on_device: model.engine.imageFeaturesOnDevice,
    image_sha256: sha256(png),
    ...(stages ? { cold_stages: stages } : {}),
    ...(firstColdTokens ? { cold_tokens: firstColdTokens } : {}),
  };
  await writeFile(out, JSON.stringify(file, null, 2));
  log(JSON.stringify(file));
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The issue's targets, as ratios to HF eager of the same dtype (fp16 vs bf16) or to vlcache's own cold TTFT. */
function ratios(row: VsHfRow, hf: VsHfRow | undefined): string[] {
  const r = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);
  const times = (x: number | null) => (x === null ? "n/a" : `${x.toFixed(2)}×`);
  const fmt = (x: number | null, target: string, ok: (x: number) => boolean) =>
    x === null ? `n/a (target ${target})` : `${times(x)} (target ${target}: ${ok(x) ? "met" : "missed"})`;
  const lines = [
    `decode at 800 vs ${hf?.system ?? "HF"}: ${fmt(r(row.decode_tok_s_800, hf?.decode_tok_s_800 ?? null), "≥ 1.0×", (x) => x >= 1)}`,
    `decode at 4000 vs ${hf?.system ?? "HF"}: ${fmt(r(row.decode_tok_s_4000, hf?.decode_tok_s_4000 ?? null), "≥ 1.0×", (x) => x >= 1)}`,
    `cold TTFT vs ${hf?.system ?? "HF"}: ${fmt(r(row.ttft_cold_ms, hf?.ttft_cold_ms ?? null), "≤ 2×", (x) => x <= 2)}`,
    `cold TTFT vs ${hf?.system ?? "HF"}'s forward alone (pixel values already on the GPU: no PNG decode, no image processor; not the target's measure): ${times(r(row.ttft_cold_ms, hf?.ttft_cold_model_ms ?? null))}`,
    `same image new chat vs own cold: ${fmt(r(row.ttft_same_image_ms, row.ttft_cold_ms), "≤ 0.15×", (x) => x <= 0.15)}; vs HF uncached: ${fmt(r(row.ttft_same_image_ms, hf?.ttft_same_image_ms ?? null), "< 1×", (x) => x < 1)}`,
    `follow-up vs own cold: ${fmt(r(row.ttft_followup_ms, row.ttft_cold_ms), "≤ 0.15×", (x) => x <= 0.15)}; vs HF uncached: ${fmt(r(row.ttft_followup_ms, hf?.ttft_followup_ms ?? null), "< 1×", (x) => x < 1)}`,
  ];
  return lines;
}

async function report(): Promise<void> {
  const out = args.out;
  if (!out || args.rows.length === 0) throw new Error("usage: bench-vs-hf report --rows A.json … --out PREFIX");
  const files: (RowFile & { source: string })[] = [];
  for (const file of args.rows) {
    try {
      files.push({ ...(JSON.parse(await readFile(file, "utf8")) as RowFile), source: file });
    } catch (error) {
      log(`skipping ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const device = process.env.GPU_NAME ?? "unknown GPU";
  const rows = files.map((f) => f.row);
  const name = (f: RowFile) =>
    f.features_on_device === undefined
      ? f.row.system
      : `${f.row.system} (features ${f.features_on_device ? "on the device" : "through the host"})`;
  await writeFile(`${out}.json`, JSON.stringify({ device, rows }, null, 2) + "\n");
  const cell = (x: number | null, digits = 0) => (x === null ? "—" : x.toFixed(digits));
  const md = [
    `# vlcache vs HF transformers on one GPU (${device})`,
    "",
    "2b preset shape, random weights (seed 0) — the same weights in both (the converter's --checkpoint-out); 1024×768 image = 768 image tokens, ≈ 800-token prompt; medians.",
    "HF rows: eager attention, no cache across requests (their same-image and follow-up fields are uncached times).",
    "Both sides' times to first token start from the same stored PNG's bytes: vlcache's include its decode, preprocessing and upload, HF's the PIL decode, transformers' image processor and the forward (bench_hf.py; the forward alone in the second table).",
    "",
    "| system | vision ms | TTFT cold ms | TTFT same image, new chat ms | TTFT follow-up ms | decode tok/s @800 | decode tok/s @4000 | peak GPU MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...files.map(
      (f) =>
        `| ${name(f)} | ${cell(f.row.vision_ms)} | ${cell(f.row.ttft_cold_ms)} | ${cell(f.row.ttft_same_image_ms)} | ${cell(f.row.ttft_followup_ms)} | ${cell(f.row.decode_tok_s_800, 1)} | ${cell(f.row.decode_tok_s_4000, 1)} | ${cell(f.row.peak_gpu_mb)} |`,
    ),
    "",
  ];
  const hfFiles = files.filter((f) => f.row.system.startsWith("hf"));
  if (hfFiles.length > 0) {
    md.push(
      "HF rows: the whole request (PNG decode, image processor, forward) against the forward alone (pixel values already on the GPU). The targets' ratios use the whole request.",
      "",
      "| system | PNG decode + image processor ms | TTFT cold ms | forward alone | TTFT same image ms | forward alone | TTFT follow-up ms | forward alone |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...hfFiles.map(
        (f) =>
          `| ${f.row.system} | ${cell(f.row.image_preprocess_ms ?? null)} | ${cell(f.row.ttft_cold_ms)} | ${cell(f.row.ttft_cold_model_ms ?? null)} | ${cell(f.row.ttft_same_image_ms)} | ${cell(f.row.ttft_same_image_model_ms ?? null)} | ${cell(f.row.ttft_followup_ms)} | ${cell(f.row.ttft_followup_model_ms ?? null)} |`,
      ),
      "",
    );
  }
  // Whether both sides measured the same request: the rows' PNG bytes (older row files recorded none).
  if (files.some((f) => f.image_sha256)) {
    const hashes = new Set(files.map((f) => f.image_sha256 ?? null));
    const first = files[0].image_sha256;
    md.push(
      hashes.size === 1 && first
        ? `All rows' requests used the same PNG bytes (SHA-256 ${first.slice(0, 16)}…).`
        : `PNG bytes per row (SHA-256): ${files.map((f) => `${name(f)} ${f.image_sha256?.slice(0, 16) ?? "not recorded"}`).join("; ")} — **not one image for all rows**.`,
      "",
    );
  }
  md.push("## Targets (issue), as ratios from this run", "");
  for (const row of rows.filter((r) => r.system.startsWith("vlcache"))) {
    const hf = rows.find((r) => r.system === (row.system.endsWith("fp32") ? "hf-eager-fp32" : "hf-eager-bf16"));
    md.push(`- **${row.system}**`, ...ratios(row, hf).map((line) => `  - ${line}`));
  }
  for (const f of files.filter((file) => file.cold_stages)) {
    md.push(
      "",
      `## Where ${name(f)}'s cold request spends its time (medians of the rounds, lib/stageTimes.ts)`,
      "",
      "| stage | before the first token ms | after it ms |",
      "|---|---:|---:|",
      ...f.cold_stages!.map(
        (s) => `| ${s.stage} | ${s.before_first_token_ms.toFixed(1)} | ${s.after_first_token_ms.toFixed(1)} |`,
      ),
      `| time to first token | ${cell(f.row.ttft_cold_ms, 1)} | |`,
    );
  }
  const answers = files.filter((f) => f.cold_tokens);
  if (answers.length > 1) {
    const same = answers.every((f) => f.cold_tokens!.join(",") === answers[0].cold_tokens!.join(","));
    md.push("", `Cold answers of the ${answers.length} vlcache rows token-identical: ${same ? "yes" : "**no**"}.`);
  }
  md.push("", "## Notes per run", "");
  for (const f of files) md.push(`- ${name(f)}:`, ...f.notes.map((note) => `  - ${note.split("\n")[0]}`));
  await writeFile(`${out}.md`, md.join("\n") + "\n");
  process.stdout.write(md.join("\n") + "\n");
}

const command = positionals[0];
if (command === "measure") await measure();
else if (command === "image" && args.out) await writeFile(args.out, await noiseImage());
else if (command === "report") await report();
else throw new Error("usage: bench-vs-hf measure … | image --out PNG | report …");
