/**
 * npm run parity -- --fixture DIR
 *
 * Converts DIR/model to a bundle under .cache/parity (reused while weights and converter code are unchanged), runs
 * the parity checks of lib/model/parity/registry.ts against the PyTorch reference in DIR, prints a table, and exits
 * 0 only when no check fails.
 */
import { parseArgs } from "node:util";
import { formatParityTable } from "@/lib/model/parity/report";
import { runParity } from "@/lib/model/parity/runParity";

const USAGE = "usage: npm run parity -- --fixture DIR   (DIR: a parity fixture such as fixtures/parity/tiny-deepstack-tied)";

async function main(): Promise<number> {
  let fixture: string | undefined;
  try {
    const { values } = parseArgs({ options: { fixture: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    fixture = values.fixture;
  } catch (error) {
    process.stderr.write(`parity: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (fixture === undefined) {
    process.stderr.write(`parity: --fixture DIR is required\n${USAGE}\n`);
    return 2;
  }
  const run = await runParity(fixture, { progress: true });
  process.stdout.write(`parity ${run.fixture} (bundle ${run.bundleDir}${run.bundleReused ? ", reused" : ""})\n\n`);
  process.stdout.write(`${formatParityTable(run.rows)}\n\n${run.passed ? "PASS" : "FAIL"}\n`);
  return run.passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`parity: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
