import { loadBundle, type Engine } from "@/lib/model/engine/engine";
import { ensureParityBundle } from "./bundleCache";
import { loadFixture } from "./fixture";
import { PARITY_CHECKS } from "./registry";
import { parityPassed } from "./report";
import type { CheckRow, ParityCheck, ParityContext } from "./types";

export interface ParityRun {
  readonly fixture: string;
  readonly bundleDir: string;
  readonly bundleReused: boolean;
  readonly rows: CheckRow[];
  readonly passed: boolean;
}

/**
 * Converts (or reuses) the fixture's bundle, runs every check against it on the CPU, and collects the rows. A check
 * that throws becomes one failing row carrying the error, so one broken check never hides the others.
 */
export async function runParity(
  fixtureDir: string,
  opts: { checks?: readonly ParityCheck[]; progress?: boolean } = {},
): Promise<ParityRun> {
  const fixture = await loadFixture(fixtureDir);
  const bundle = await ensureParityBundle(fixture.name, fixture.modelDir, { progress: opts.progress });
  const opened: { engine: Promise<Engine> | null } = { engine: null };
  const ctx: ParityContext = {
    fixture,
    bundleDir: bundle.dir,
    engine: () => (opened.engine ??= loadBundle(bundle.dir, { executionProvider: "cpu" })),
  };
  const rows: CheckRow[] = [];
  try {
    for (const check of opts.checks ?? PARITY_CHECKS) {
      try {
        rows.push(...(await check.run(ctx)));
      } catch (error) {
        rows.push({ check: check.name, metric: "error", value: "error", threshold: "-", pass: false, note: `${check.name}: ${(error as Error).message}` });
      }
    }
  } finally {
    if (opened.engine !== null) await (await opened.engine).release();
  }
  return { fixture: fixture.name, bundleDir: bundle.dir, bundleReused: bundle.reused, rows, passed: parityPassed(rows) };
}
