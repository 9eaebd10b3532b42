/**
 * node profile.mjs --bundle DIR [--provider webgpu] [--decode 8] --out PREFIX
 *
 * Where the engine's time goes on one provider, from ORT's own profiler (SessionTuning.profilePrefix): the engine
 * encodes a 1024×768 image (grid 1×48×64), prefills an 800-token prompt holding it (on WebGPU with the features from
 * the device, read back after prefill, as a cold request does; the small graphs' sessions are profiled as
 * `features`), and decodes --decode tokens, once untimed and once profiled. Per session, the profiled runs' wall
 * time (`model_run`) is set against the time ORT spent inside node kernels, per op type and provider. On a GPU
 * provider a kernel's time is what it took to record its work (the GPU runs it later), except for nodes left to the
 * CPU provider and for copies between host and device, which run where they are timed — so the table shows CPU
 * fallbacks and copies at their real cost, and the rest of a run's wall time is time spent waiting for the GPU.
 *
 * Writes PREFIX.json (the aggregates) and PREFIX.md.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { DecodeLoop } from "@/lib/model/engine/decodeLoop";
import { Engine } from "@/lib/model/engine/engine";
import type { ExecutionProviderName } from "@/lib/model/engine/executionProvider";
import { patchRowSize, releaseDeviceImageFeatures } from "@/lib/model/engine/imageFeatures";

const GRID = { t: 1, h: 48, w: 64 };

const { values } = parseArgs({
  options: {
    bundle: { type: "string" },
    provider: { type: "string", default: "webgpu" },
    decode: { type: "string", default: "8" },
    out: { type: "string" },
  },
  strict: true,
});

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; provider?: string };
}

interface SessionProfile {
  session: string;
  runs: number;
  runMs: number;
  kernelMs: number;
  ops: { op: string; provider: string; nodes: number; ms: number }[];
}

/** Runs the engine's steps once; returns nothing, the profiler records them. */
async function pass(engine: Engine, decodeSteps: number): Promise<void> {
  const cfg = engine.config;
  const merge = cfg.vision.spatialMergeSize;
  const imageTokens = (GRID.t * GRID.h * GRID.w) / merge ** 2;
  const pixels = Float32Array.from({ length: GRID.t * GRID.h * GRID.w * patchRowSize(cfg) }, (_, i) =>
    Math.sin(i * 0.618),
  );
  const text = (n: number, salt: number) => Array.from({ length: n }, (_, i) => 1000 + ((i * 7919 + salt) % 50000));
  const ids = [
    ...text(16, 0),
    cfg.visionStartTokenId,
    ...new Array<number>(imageTokens).fill(cfg.imageTokenId),
    cfg.visionEndTokenId,
    ...text(14, 1),
  ];
  const prompt = engine.prepare(ids, [GRID]);
  if (!engine.imageFeaturesOnDevice) {
    const images = await engine.encodeImages(pixels, [GRID]);
    await decode(engine.decodeLoop(prompt, await engine.prefill(prompt, images)), decodeSteps);
    return;
  }
  // As a cold request runs on a device engine: features to prefill from the device, read back after the first token.
  const image = await engine.encodeImageOnDevice(pixels, GRID);
  try {
    const loop = engine.decodeLoop(prompt, await engine.prefill(prompt, [image]));
    await decode(loop, decodeSteps, () => engine.downloadImageFeatures(image));
  } finally {
    releaseDeviceImageFeatures(image);
  }
}

/** Runs `afterFirstToken`, then feeds `steps` tokens through `loop`; releases the loop whatever happens. */
async function decode(loop: DecodeLoop, steps: number, afterFirstToken?: () => Promise<unknown>): Promise<void> {
  try {
    await afterFirstToken?.();
    for (let s = 0; s < steps; s++) await loop.feed(1000 + s);
  } finally {
    loop.release();
  }
}

/** Kernel time per op type and provider inside the second pass's runs of one session's profile. */
function summarise(session: string, events: ProfileEvent[]): SessionProfile {
  const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run").sort((a, b) => a.ts - b.ts);
  // Two identical passes: the first half of the runs is the warm-up.
  const measured = runs.slice(runs.length / 2);
  const inside = (e: ProfileEvent) => measured.some((run) => e.ts >= run.ts && e.ts <= run.ts + run.dur);
  const byOp = new Map<string, { op: string; provider: string; nodes: number; us: number }>();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time") || !inside(e)) continue;
    const op = e.args?.op_name ?? "?";
    const provider = (e.args?.provider ?? "?").replace("ExecutionProvider", "");
    const key = `${op}/${provider}`;
    const entry = byOp.get(key) ?? { op, provider, nodes: 0, us: 0 };
    entry.nodes += 1;
    entry.us += e.dur;
    byOp.set(key, entry);
  }
  const perRun = (us: number) => us / 1000 / Math.max(1, measured.length);
  const ops = [...byOp.values()].map((o) => ({
    op: o.op,
    provider: o.provider,
    nodes: o.nodes / Math.max(1, measured.length),
    ms: perRun(o.us),
  }));
  ops.sort((a, b) => b.ms - a.ms);
  return {
    session,
    runs: measured.length,
    runMs: perRun(measured.reduce((sum, run) => sum + run.dur, 0)),
    kernelMs: ops.reduce((sum, o) => sum + o.ms, 0),
    ops,
  };
}

async function main(): Promise<void> {
  const decodeSteps = Number(values.decode);
  if (values.bundle === undefined || values.out === undefined || !(decodeSteps >= 1)) {
    throw new Error("usage: profile.ts --bundle DIR [--provider webgpu] [--decode 8] --out PREFIX");
  }
  const dir = await mkdtemp(path.join(tmpdir(), "vlcache-profile-"));
  try {
    const engine = await Engine.load(values.bundle, {
      executionProvider: values.provider as ExecutionProviderName,
      profilePrefix: path.join(dir, "ort"),
    });
    await pass(engine, decodeSteps);
    await pass(engine, decodeSteps);
    // Released sessions write their profiles.
    await engine.release();
    const sessions: SessionProfile[] = [];
    for (const file of (await readdir(dir)).filter((f) => f.endsWith(".json")).sort()) {
      const events = JSON.parse(await readFile(path.join(dir, file), "utf8")) as ProfileEvent[];
      const name = file.replace(/^ort-/, "").replace(/_\d.*$/, "");
      if (name !== "gather") sessions.push(summarise(name, events));
    }
    const md = [
      `# ORT profile: ${values.bundle} on ${values.provider}`,
      "",
      `1024×768 image (${GRID.t}×${GRID.h}×${GRID.w}), 800-token prompt, ${decodeSteps} decode steps (the decoder's runs: 1 prefill + ${decodeSteps} decode steps); per run of the second of two identical passes. ` +
        "Kernel ms on a GPU provider is recording time, except CPU nodes and copies (see profile.ts).",
      "",
    ];
    for (const s of sessions) {
      md.push(
        `## ${s.session}: ${s.runs} runs, ${s.runMs.toFixed(1)} ms per run, ${s.kernelMs.toFixed(1)} ms in kernels`,
        "",
      );
      md.push("| op | provider | nodes per run | ms per run |", "|---|---|---:|---:|");
      for (const o of s.ops.slice(0, 15))
        md.push(`| ${o.op} | ${o.provider} | ${o.nodes.toFixed(0)} | ${o.ms.toFixed(2)} |`);
      const cpu = s.ops.filter((o) => o.provider === "CPU");
      if (s.ops.some((o) => o.provider !== "CPU")) {
        md.push(
          "",
          `Left to the CPU: ${cpu.map((o) => `${o.op} ×${o.nodes.toFixed(0)} (${o.ms.toFixed(2)} ms)`).join(", ") || "nothing"}`,
        );
      }
      md.push("");
    }
    await writeFile(
      `${values.out}.json`,
      JSON.stringify({ bundle: values.bundle, provider: values.provider, sessions }, null, 2),
    );
    await writeFile(`${values.out}.md`, md.join("\n"));
    process.stdout.write(md.join("\n") + "\n");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
