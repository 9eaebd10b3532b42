/**
 * A parity check compares vlcache against a PyTorch reference fixture and reports table rows. Checks are independent
 * modules listed in registry.ts; each decides for itself whether the fixture has what it needs (if not, its rows say
 * n/a rather than failing).
 */

import type { Engine } from "@/lib/model/engine/engine";
import type { ParityFixture } from "./fixture";

export interface CheckRow {
  readonly check: string;
  readonly metric: string;
  /** The measured value as shown in the table ("n/a" when the fixture has nothing to compare). */
  readonly value: string;
  readonly threshold: string;
  /** null = not applicable; the run passes when no row is false. */
  readonly pass: boolean | null;
  /** Context worth a line under the table (a forgiven tie, the first mismatch, an error). */
  readonly note?: string;
}

export interface ParityContext {
  readonly fixture: ParityFixture;
  /** The bundle converted from `fixture/model` (fp32). */
  readonly bundleDir: string;
  /**
   * The bundle opened on the execution provider runParity was given (default the CPU), loaded on first use and shared
   * by all checks; `engine().executionProvider` names the provider it actually got.
   */
  engine(): Promise<Engine>;
}

export interface ParityCheck {
  readonly name: string;
  run(ctx: ParityContext): Promise<CheckRow[]>;
}

export function notApplicable(check: string, metric: string, threshold: string, note?: string): CheckRow {
  return { check, metric, value: "n/a", threshold, pass: null, note };
}
