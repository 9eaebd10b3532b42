/**
 * npx tsx scripts/gpu/parity.ts --fixture DIR [--fixture DIR …] [--provider webgpu|cuda|cpu|auto] [--json FILE]
 *
 * `npm run parity` on another execution provider: the same checks (lib/model/parity/registry.ts), the same cached
 * fp32 bundle and thresholds, but the engine the checks share is opened with the chosen provider instead of the
 * CPU that runParity hard-codes. Prints one table per fixture, optionally writes all rows as JSON, and exits 0 only
 * when every fixture passes.
 */
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { loadBundle, type Engine } from "@/lib/model/engine/engine";
import { EXECUTION_PROVIDERS, type ExecutionProviderChoice } from "@/lib/model/engine/executionProvider";
import { PARITY_CHECKS } from "@/lib/model/parity/registry";
import { formatParityTable } from "@/lib/model/parity/report";
import { runParity, type ParityRun } from "@/lib/model/parity/runParity";
import type { ParityCheck, ParityContext } from "@/lib/model/parity/types";

const CHOICES: readonly string[] = [...EXECUTION_PROVIDERS, "auto"];

/**
 * runParity opens its engine on the CPU. Each check is given a context whose engine is opened on `provider`
 * instead; one derived context per run, so the checks keep sharing state keyed by it (the encoded fixture images).
 * The CPU engine is then never opened; the caller releases the one opened here.
 */
function onProvider(provider: ExecutionProviderChoice, checks: readonly ParityCheck[]) {
  const derived = new WeakMap<ParityContext, ParityContext>();
  let engine: Promise<Engine> | null = null;
  const contextFor = (ctx: ParityContext): ParityContext => {
    let own = derived.get(ctx);
    if (own === undefined) {
      own = { ...ctx, engine: () => (engine ??= loadBundle(ctx.bundleDir, { executionProvider: provider })) };
      derived.set(ctx, own);
    }
    return own;
  };
  return {
    checks: checks.map((check): ParityCheck => ({ name: check.name, run: (ctx) => check.run(contextFor(ctx)) })),
    /** The provider the engine actually got (differs from the choice under `auto`), or null if it never opened. */
    async opened(): Promise<string | null> {
      return engine === null ? null : (await engine.catch(() => null))?.executionProvider ?? null;
    },
    async release(): Promise<void> {
      if (engine !== null) await (await engine.catch(() => null))?.release();
    },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      fixture: { type: "string", multiple: true },
      provider: { type: "string", default: "webgpu" },
      json: { type: "string" },
    },
    strict: true,
  });
  const fixtures = values.fixture ?? [];
  if (fixtures.length === 0 || !CHOICES.includes(values.provider)) {
    process.stderr.write(`usage: parity.ts --fixture DIR [--fixture DIR …] [--provider ${CHOICES.join("|")}] [--json FILE]\n`);
    return 2;
  }
  const provider = values.provider as ExecutionProviderChoice;
  const runs: (ParityRun & { provider: string | null; seconds: number })[] = [];
  for (const fixture of fixtures) {
    const wrapped = onProvider(provider, PARITY_CHECKS);
    const start = performance.now();
    try {
      const run = await runParity(fixture, { checks: wrapped.checks });
      runs.push({ ...run, provider: await wrapped.opened(), seconds: (performance.now() - start) / 1000 });
    } finally {
      await wrapped.release();
    }
    const run = runs[runs.length - 1];
    process.stdout.write(`parity ${run.fixture} on ${run.provider ?? `${provider} (not opened)`} (bundle ${run.bundleDir}), ${run.seconds.toFixed(1)} s\n\n`);
    process.stdout.write(`${formatParityTable(run.rows)}\n\n${run.passed ? "PASS" : "FAIL"}\n\n`);
  }
  if (values.json !== undefined) await writeFile(values.json, JSON.stringify({ requested: provider, runs }, null, 2) + "\n");
  return runs.every((r) => r.passed) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`parity: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
