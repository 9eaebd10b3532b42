import { loadBundle, type Engine } from "@/lib/model/engine/engine";
import type { ExecutionProviderChoice, ExecutionProviderName } from "@/lib/model/engine/executionProvider";
import { ensureParityBundle } from "./bundleCache";
import { loadFixture } from "./fixture";
import { PARITY_CHECKS } from "./registry";
import { parityPassed } from "./report";
import type { CheckRow, ParityCheck, ParityContext } from "./types";

export interface ParityRun {
  readonly fixture: string;
  readonly bundleDir: string;
  readonly bundleReused: boolean;
  /**
   * The provider the checks' engine actually ran on (differs from the choice under `auto`); null if no check opened it.
   */
  readonly executionProvider: ExecutionProviderName | null;
  readonly rows: CheckRow[];
  readonly passed: boolean;
}

export interface ParityOptions {
  /** Default: every check of registry.ts. */
  readonly checks?: readonly ParityCheck[];
  readonly progress?: boolean;
  /** Where the checks' shared engine runs; default "cpu". The thresholds are the same on every provider. */
  readonly executionProvider?: ExecutionProviderChoice;
}

/**
 * Converts (or reuses) the fixture's bundle, runs every check against it on the chosen execution provider, and
 * collects the rows. A check that throws becomes one failing row carrying the error, so one broken check never hides
 * the others.
 */
export async function runParity(fixtureDir: string, opts: ParityOptions = {}): Promise<ParityRun> {
  const fixture = await loadFixture(fixtureDir);
  const bundle = await ensureParityBundle(fixture.name, fixture.modelDir, { progress: opts.progress });
  const opened: { engine: Promise<Engine> | null } = { engine: null };
  const ctx: ParityContext = {
    fixture,
    bundleDir: bundle.dir,
    engine: () => (opened.engine ??= loadBundle(bundle.dir, { executionProvider: opts.executionProvider ?? "cpu" })),
  };
  const rows: CheckRow[] = [];
  let executionProvider: ExecutionProviderName | null = null;
  try {
    for (const check of opts.checks ?? PARITY_CHECKS) {
      try {
        rows.push(...(await check.run(ctx)));
      } catch (error) {
        rows.push({
          check: check.name,
          metric: "error",
          value: "error",
          threshold: "-",
          pass: false,
          note: `${check.name}: ${(error as Error).message}`,
        });
      }
    }
  } finally {
    // A provider that failed to open already failed the checks that asked for it (as error rows); nothing to release.
    const engine = opened.engine === null ? null : await opened.engine.catch(() => null);
    executionProvider = engine?.executionProvider ?? null;
    await engine?.release();
  }
  return {
    fixture: fixture.name,
    bundleDir: bundle.dir,
    bundleReused: bundle.reused,
    executionProvider,
    rows,
    passed: parityPassed(rows),
  };
}
