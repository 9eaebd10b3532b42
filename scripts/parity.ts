/**
 * npm run parity -- --fixture DIR [--fixture DIR …] [--provider cpu|webgpu|cuda|auto] [--json FILE]
 *
 * Converts each DIR/model to a bundle under .cache/parity (reused while weights and converter code are unchanged),
 * runs the parity checks of lib/model/parity/registry.ts against the PyTorch reference in DIR with the engine on the
 * chosen execution provider (default cpu; the thresholds are the same everywhere), prints one table per fixture
 * headed by the provider the engine actually got, optionally writes every run as JSON, and exits 0 only when no
 * check of any fixture fails.
 */
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { EXECUTION_PROVIDERS, type ExecutionProviderChoice } from "@/lib/model/engine/executionProvider";
import { formatParityTable } from "@/lib/model/parity/report";
import { runParity, type ParityRun } from "@/lib/model/parity/runParity";

const PROVIDERS: readonly string[] = [...EXECUTION_PROVIDERS, "auto"];
const USAGE =
  `usage: npm run parity -- --fixture DIR [--fixture DIR …] [--provider ${PROVIDERS.join("|")}] [--json FILE]\n` +
  "  (DIR: a parity fixture such as fixtures/parity/tiny-deepstack-tied)";

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        fixture: { type: "string", multiple: true },
        provider: { type: "string", default: "cpu" },
        json: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`parity: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const fixtures = values.fixture ?? [];
  if (fixtures.length === 0) {
    process.stderr.write(`parity: --fixture DIR is required\n${USAGE}\n`);
    return 2;
  }
  if (!PROVIDERS.includes(values.provider)) {
    process.stderr.write(`parity: unknown --provider ${values.provider}\n${USAGE}\n`);
    return 2;
  }
  const provider = values.provider as ExecutionProviderChoice;
  const runs: (ParityRun & { seconds: number })[] = [];
  for (const fixture of fixtures) {
    const start = performance.now();
    const run = {
      ...(await runParity(fixture, { progress: true, executionProvider: provider })),
      seconds: (performance.now() - start) / 1000,
    };
    runs.push(run);
    const on = run.executionProvider ?? `${provider} (not opened)`;
    process.stdout.write(
      `parity ${run.fixture} on ${on} (bundle ${run.bundleDir}${run.bundleReused ? ", reused" : ""}), ${run.seconds.toFixed(1)} s\n\n`,
    );
    process.stdout.write(`${formatParityTable(run.rows)}\n\n${run.passed ? "PASS" : "FAIL"}\n\n`);
  }
  if (values.json !== undefined)
    await writeFile(values.json, JSON.stringify({ requested: provider, runs }, null, 2) + "\n");
  return runs.every((r) => r.passed) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`parity: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
