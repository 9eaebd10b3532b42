/**
 * Helpers shared by the benchmark scripts: output, the small checkpoint, medians, a text prompt's token ids; and for the
 * cold-request benchmarks (bench-host, gpu/bench-vs-hf) the pipeline, image, question and stage breakdown.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { storedImages } from "@/lib/inference/imageSource";
import type { InferenceModel } from "@/lib/inference/inferenceModel";
import type { CacheSettings } from "@/lib/config";
import { createModelCaches, type ModelCaches } from "@/lib/inference/modelCaches";
import { InferencePipeline } from "@/lib/inference/pipeline";
import type { Logger } from "@/lib/log";
import { writeRandomCheckpoint } from "@/lib/model/checkpoint/randomCheckpoint";
import { getPreset } from "@/lib/model/convert/presets";
import { STAGES, type StageName, type StageTime } from "@/lib/stageTimes";

export function line(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Writes the `small` preset's seed-0 random checkpoint to `dir` unless it is already there. */
export async function ensureSmallCheckpoint(dir: string): Promise<void> {
  if (existsSync(path.join(dir, "model.safetensors"))) return;
  line(`writing the small preset's random checkpoint (seed 0) to ${dir}`);
  const preset = getPreset("small");
  await writeRandomCheckpoint(dir, { seed: 0, configJson: preset.configJson, imageSize: preset.imageSize });
}

/** Upper median (the middle element for odd counts). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * `count` fixed token ids in [1000, 51000), clear of the special tokens: a text prompt of that length for timing
 * (scripts/gpu/bench_hf.py's `text` is the same formula with a salt added to i·7919).
 */
export function textPromptIds(count: number): number[] {
  return Array.from({ length: count }, (_, i) => 1000 + ((i * 7919) % 50000));
}

/** One stage of the cold request (lib/stageTimes.ts), medians over the rounds: before and after its first token. */
export interface ColdStage {
  stage: StageName | "outside any stage";
  before_first_token_ms: number;
  after_first_token_ms: number;
}

/**
 * The serving pipeline over `store` with every cache level, as the app builds it, for the cold-request benchmarks
 * (their requests turn L3 off: a response served from it would skip the work they time).
 */
export function benchPipeline(
  model: InferenceModel,
  store: BlobStore,
  settings: CacheSettings,
  logger: Logger,
): { caches: ModelCaches; pipeline: InferencePipeline } {
  const caches = createModelCaches(model, store, settings, logger);
  const pipeline = new InferencePipeline({
    model,
    images: storedImages(store),
    maxImagePixels: 40_000_000,
    seams: caches.seams,
  });
  return { caches, pipeline };
}

/** The cold request's question in bench-host and gpu/bench-vs-hf: the same words, so their stage tables compare. */
export const COLD_QUESTION =
  "Describe every panel of this screenshot, the chart, the settings and the text lines, in detail please.";

/**
 * A 1024×768 PNG of noise around grey (uniform ±69: a standard deviation of 40) from a fixed xorshift seed: the same
 * image in every run, so the answers of two runs (say, both feature paths) can be compared.
 */
export function noiseImage(): Promise<Buffer> {
  const [width, height] = [1024, 768];
  const data = new Uint8Array(width * height * 3);
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = 128 - 69 + ((x >>> 0) % 139);
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/**
 * Per stage, the time spent in it before the request's first token (askedAt + ttft) and after it (work the device path
 * moved behind the first token: the features' download, L1's write); last, the part of the time to first token that
 * no stage accounts for (queueing, events, sampling, what is not instrumented, and garbage collection: a cold request
 * allocates tens of MB of ArrayBuffers, and the collections that external memory pressure sets off — several scavenges
 * of 1-5 ms and one or two mark-compacts of 5-15 ms per request, seen with --trace-gc on a 2b-width bundle — pause
 * whatever runs next, inside a stage or between two).
 */
export function stageBreakdown(stages: readonly StageTime[], askedAt: number, ttftMs: number): ColdStage[] {
  const firstTokenAt = askedAt + ttftMs;
  const rows: ColdStage[] = STAGES.map((stage) => {
    const of = stages.filter((s) => s.stage === stage);
    const sum = (list: StageTime[]) => list.reduce((total, s) => total + s.ms, 0);
    return {
      stage,
      before_first_token_ms: sum(of.filter((s) => s.startMs < firstTokenAt)),
      after_first_token_ms: sum(of.filter((s) => s.startMs >= firstTokenAt)),
    };
  });
  const accounted = rows.reduce((total, r) => total + r.before_first_token_ms, 0);
  rows.push({ stage: "outside any stage", before_first_token_ms: ttftMs - accounted, after_first_token_ms: 0 });
  return rows;
}

/** Per stage, the median over rounds of stageBreakdown's rows (every round lists the same stages in the same order). */
export function medianStages(rounds: readonly (readonly ColdStage[])[]): ColdStage[] {
  return rounds[0].map(({ stage }, i) => ({
    stage,
    before_first_token_ms: median(rounds.map((round) => round[i].before_first_token_ms)),
    after_first_token_ms: median(rounds.map((round) => round[i].after_first_token_ms)),
  }));
}
