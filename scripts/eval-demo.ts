/**
 * npm run eval:demo -- [--per-family N] [--pytorch FILE] [--write-test-set DIR]
 *
 * The demo model (models/vlcache-demo) on its held-out test set (lib/demoModel/testSet.ts, drawn as SVG by sharp — not
 * the PIL renderer it was trained on), through the HTTP API of the real app (`next start`, real redis-server, CPU
 * provider): every question once with all caches on and once with all caches off, in sessions, the follow-up family's
 * second question in the first one's session. Prints a per-family table — right answers (exact text; grounding: label
 * and IoU ≥ 0.5), grounding IoU ≥ 0.5 rate, caches-on = caches-off answers, L2 hits on follow-ups — next to PyTorch's
 * numbers on the same images (--pytorch: train.py's eval.json), and writes bench/results/demo-eval-<date>.{json,md}.
 *
 * --write-test-set DIR only writes the images and manifest.json (what train.py --test-dir reads) and exits.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import type { CacheSwitches } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";
import { ensureDemoBundle } from "@/lib/demoModel/bundle";
import { scoreAnswer, scoreTable, type FamilyScore } from "@/lib/demoModel/score";
import { renderTestImage, writeTestSet } from "@/lib/demoModel/testImages";
import { buildTestSet, DEMO_FAMILIES, type TestItem } from "@/lib/demoModel/testSet";
import { createProgress } from "@/lib/progress";
import { answerOf, buildOnce, postChat, startApiApp, uploadImage } from "@/tests/integration/apiApp";
import { startTestRedis } from "@/tests/support/redisServer";

const RESULTS_DIR = path.join(process.cwd(), "bench", "results");
const DEFAULT_PYTORCH = path.join(RESULTS_DIR, "demo-model-pytorch-eval-2026-12-03-run9.json");
const CACHES_ON: CacheSwitches = { l1: true, l2: true, l3: true };
const CACHES_OFF: CacheSwitches = { l1: false, l2: false, l3: false };
const MAX_NEW_TOKENS = 48;

interface TurnResult {
  id: string;
  family: string;
  turn: number;
  question: string;
  expected: string;
  cachesOn: string;
  cachesOff: string;
  /** Prompt tokens whose KV came from L2 (caches on). */
  l2Reused: number;
  /** Server-side time of the whole answer, caches on and off. */
  totalMsOn: number;
  totalMsOff: number;
}

const pytorchSchema = z.object({
  pytorch: z.string(),
  nodeRendered: z.object({
    predictions: z.array(z.object({ id: z.string(), turn: z.number(), got: z.string() })),
    table: z.record(z.string(), z.object({ correctPct: z.number() })),
  }),
});

async function askAll(
  baseUrl: string,
  items: readonly TestItem[],
  imageIds: Map<string, ImageId>,
  cache: CacheSwitches,
  label: string,
) {
  const answers = new Map<string, { text: string; reused: number; totalMs: number }>();
  const total = items.reduce((n, it) => n + it.turns.length, 0);
  const progress = createProgress(label, total, { unit: "items" });
  let done = 0;
  for (const item of items) {
    let sessionId: SessionId | undefined;
    for (const [turn, { question }] of item.turns.entries()) {
      const message = turn === 0 ? { text: question, imageIds: [imageIds.get(item.id)!] } : { text: question };
      const reply = answerOf(
        await postChat(baseUrl, {
          sessionId,
          message,
          params: { maxNewTokens: MAX_NEW_TOKENS, temperature: 0 },
          cache,
        }),
      );
      sessionId = reply.meta.sessionId;
      answers.set(`${item.id}/${turn}`, {
        text: reply.text,
        reused: reply.meta.cache.prefix.reused,
        totalMs: reply.done.timings.totalMs,
      });
      progress.update(++done);
    }
  }
  progress.finish();
  return answers;
}

function markdown(
  rows: readonly TurnResult[],
  table: Record<string, FamilyScore>,
  pytorch: z.infer<typeof pytorchSchema> | null,
  machine: string,
): string {
  const lines = [
    `# Demo model on its held-out test set (${new Date().toISOString().slice(0, 10)})`,
    "",
    `HTTP API of the real app (next start, redis-server, onnxruntime-node CPU, fp32 bundle) on ${machine}. Questions: ${rows.length}.`,
    pytorch ? `PyTorch column: ${pytorch.pytorch}, same images (scripts/demo-model/train.py --test-dir).` : "",
    "",
    "| family | questions | right (caches on) | grounding IoU ≥ 0.5 | PyTorch right | same answer as PyTorch | caches on = off | follow-ups with an L2 hit |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const pyAnswers = new Map(pytorch?.nodeRendered.predictions.map((p) => [`${p.id}/${p.turn}`, p.got]) ?? []);
  for (const family of DEMO_FAMILIES) {
    const mine = rows.filter((r) => r.family === family);
    if (mine.length === 0) continue;
    const t = table[family];
    const same = mine.filter((r) => r.cachesOn === r.cachesOff).length;
    const samePy = mine.filter((r) => pyAnswers.get(`${r.id}/${r.turn}`) === r.cachesOn).length;
    const followUps = mine.filter((r) => r.turn > 0);
    const l2 = followUps.length ? `${followUps.filter((r) => r.l2Reused > 0).length}/${followUps.length}` : "–";
    const py = pytorch?.nodeRendered.table[family]?.correctPct;
    lines.push(
      `| ${family} | ${t.questions} | ${t.correctPct}% | ${t.iouAtLeastHalfPct === null ? "–" : `${t.iouAtLeastHalfPct}% of ${t.boxes}`} | ` +
        `${py === undefined ? "–" : `${py}%`} | ${pytorch ? `${samePy}/${mine.length}` : "–"} | ${same}/${mine.length} | ${l2} |`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  lines.push(
    "",
    `Median server time of a whole answer: ${median(rows.map((r) => r.totalMsOff)).toFixed(1)} ms with caches off (every turn computed from scratch), ` +
      `${median(rows.map((r) => r.totalMsOn)).toFixed(1)} ms with caches on.`,
  );
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "per-family": { type: "string", default: "60" },
      pytorch: { type: "string", default: DEFAULT_PYTORCH },
      "write-test-set": { type: "string" },
    },
    strict: true,
  });
  const perFamily = z.coerce.number().int().positive().parse(values["per-family"]);
  const items = buildTestSet(perFamily);
  if (values["write-test-set"]) {
    await writeTestSet(values["write-test-set"], items);
    process.stdout.write(
      `eval:demo: wrote ${items.length} test images and manifest.json to ${values["write-test-set"]}\n`,
    );
    return;
  }
  const pytorch = await readFile(values.pytorch!, "utf8").then(
    (text) => pytorchSchema.parse(JSON.parse(text)),
    () => null,
  );

  const bundle = await ensureDemoBundle(path.join(process.cwd(), ".cache"), { progress: true });
  await buildOnce();
  const redis = await startTestRedis();
  // RATE_LIMIT_PER_MINUTE=0: one client asks hundreds of questions in a row.
  const app = await startApiApp("eval-demo", {
    REDIS_URL: redis.url,
    MODEL_DIR: bundle.dir,
    RATE_LIMIT_PER_MINUTE: "0",
  });
  let rows: TurnResult[];
  try {
    const imageIds = new Map<string, ImageId>();
    for (const item of items)
      imageIds.set(item.id, (await uploadImage(app.baseUrl, await renderTestImage(item))).imageId);
    const on = await askAll(app.baseUrl, items, imageIds, CACHES_ON, "caches on");
    const off = await askAll(app.baseUrl, items, imageIds, CACHES_OFF, "caches off");
    rows = items.flatMap((item) =>
      item.turns.map((t, turn) => {
        const key = `${item.id}/${turn}`;
        return {
          id: item.id,
          family: item.family,
          turn,
          question: t.question,
          expected: t.answer,
          cachesOn: on.get(key)!.text,
          cachesOff: off.get(key)!.text,
          l2Reused: on.get(key)!.reused,
          totalMsOn: on.get(key)!.totalMs,
          totalMsOff: off.get(key)!.totalMs,
        };
      }),
    );
  } finally {
    await app.stop();
    await redis.teardown();
  }

  const scored = rows.map((r) => ({ ...r, ...scoreAnswer(r.expected, r.cachesOn) }));
  const table = scoreTable(scored);
  const machine = `${os.cpus()[0]?.model ?? "unknown CPU"} × ${os.cpus().length}`;
  const report = markdown(rows, table, pytorch, machine);
  process.stdout.write(`\n${report}`);
  await mkdir(RESULTS_DIR, { recursive: true });
  const stem = path.join(RESULTS_DIR, `demo-eval-${new Date().toISOString().slice(0, 10)}`);
  await writeFile(`${stem}.md`, report);
  await writeFile(
    `${stem}.json`,
    JSON.stringify(
      { machine, perFamily, table, pytorch: pytorch?.nodeRendered.table ?? null, answers: scored },
      null,
      1,
    ) + "\n",
  );
  process.stdout.write(`eval:demo: wrote ${path.relative(process.cwd(), stem)}.{md,json}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`eval:demo: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
