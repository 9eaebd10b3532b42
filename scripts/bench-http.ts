/**
 * npm run bench:http [-- --duration 15 --connections 30 --out bench/results]
 *
 * Bounded HTTP load on loopback against the built app as `npm start` runs it (its server around Next.js, an embedded
 * redis-server, the default random-weight test model, rate limit off): autocannon for `--duration` seconds per phase
 * with `--connections` clients, then stops.
 *   1. L3 hits: the same deterministic question over and over (its answer comes from the response cache);
 *   2. misses: a new question every request (4 new tokens each), answered by the model;
 * and the app's resident memory (VmRSS) after start, after each phase. Prints a table and writes
 * bench/results/http-<timestamp>.md and .json. Progress lines go to stderr. Builds the app first when it is stale.
 */
import { readFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { ensureAppBuilt, startApp, type RunningApp } from "@/e2e/appServer";
import { ensureTestModel } from "@/e2e/testModel";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "15" },
    connections: { type: "string", default: "30" },
    out: { type: "string", default: "bench/results" },
  },
});
const duration = Number(args.duration);
const connections = Number(args.connections);
if (!(duration > 0 && duration <= 300) || !(connections > 0 && connections <= 256)) {
  throw new Error("--duration must be 1..300 seconds and --connections 1..256 (the load is bounded on purpose)");
}

const progress = (text: string) => process.stderr.write(`bench:http ${text}\n`);

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

interface Phase {
  readonly name: string;
  readonly answersPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly rssAfterMb: number;
}

async function load(app: RunningApp, name: string, body: () => string): Promise<Phase> {
  progress(`${name}: ${connections} clients for ${duration} s …`);
  const result = await autocannon({
    url: `${app.baseUrl}/api/chat`,
    method: "POST",
    connections,
    duration,
    headers: { "content-type": "application/json" },
    requests: [{ setupRequest: (request) => ({ ...request, body: body() }) }],
  });
  const phase: Phase = {
    name,
    answersPerSecond: (result.requests.total - result.non2xx) / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    rssAfterMb: await rssMb(app.pid),
  };
  progress(`${name}: ${phase.answersPerSecond.toFixed(1)} answers/s, p50 ${phase.p50Ms} ms, p99 ${phase.p99Ms} ms`);
  return phase;
}

async function main(): Promise<void> {
  const logDir = path.join(".cache", "bench-http");
  await mkdir(logDir, { recursive: true });
  progress(`next build unless fresh (log: ${logDir}/build.log)`);
  await ensureAppBuilt(path.join(logDir, "build.log"));
  const modelDir = await ensureTestModel();
  const app = await startApp(
    { MODEL_DIR: modelDir, RATE_LIMIT_PER_MINUTE: "0", LOG_LEVEL: "warn", CACHE_DIR: path.resolve(logDir, "cache") },
    path.join(logDir, "server.log"),
  );
  try {
    while (((await (await fetch(`${app.baseUrl}/api/health`)).json()) as { model: unknown }).model === null) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const rssStartMb = await rssMb(app.pid);
    const hitBody = JSON.stringify({ message: { text: "What does the cache hold?" }, params: { maxNewTokens: 4 } });
    await fetch(`${app.baseUrl}/api/chat`, { method: "POST", body: hitBody }).then((r) => r.text());
    let question = 0;
    const phases = [
      await load(app, "L3 hits", () => hitBody),
      await load(app, "misses", () =>
        JSON.stringify({ message: { text: `Question number ${question++}?` }, params: { maxNewTokens: 4 } }),
      ),
    ];
    await report({ rssStartMb, phases });
  } finally {
    await app.stop();
  }
}

async function report(out: { rssStartMb: number; phases: Phase[] }): Promise<void> {
  const rows = [
    `bench:http — ${connections} clients, ${duration} s per phase, loopback, tiny random-weight model, 4 new tokens`,
    "",
    "| phase | answers/s | p50 | p99 | non-2xx | errors | RSS after |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| start | | | | | | ${out.rssStartMb.toFixed(0)} MB |`,
    ...out.phases.map(
      (p) =>
        `| ${p.name} | ${p.answersPerSecond.toFixed(1)} | ${p.p50Ms} ms | ${p.p99Ms} ms | ${p.non2xx} | ${p.errors} | ${p.rssAfterMb.toFixed(0)} MB |`,
    ),
  ];
  process.stdout.write(`${rows.join("\n")}\n`);
  await mkdir(args.out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  await writeFile(path.join(args.out, `http-${stamp}.md`), `${rows.join("\n")}\n`);
  await writeFile(
    path.join(args.out, `http-${stamp}.json`),
    `${JSON.stringify({ date: new Date().toISOString(), connections, duration, ...out }, null, 2)}\n`,
  );
}

await main();
