/** Pure comparisons behind the parity checks. */

export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length)
    throw new Error(`cannot compare ${actual.length} values with ${expected.length}`);
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    // NaN anywhere must fail the comparison, not vanish in Math.max.
    if (Number.isNaN(d)) return Number.POSITIVE_INFINITY;
    if (d > max) max = d;
  }
  return max;
}

/** top-1 minus top-2 logit: how far greedy decoding is from a tie. */
export function topMargin(logits: ArrayLike<number>): { token: number; margin: number } {
  let best = -Infinity;
  let second = -Infinity;
  let token = -1;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > best) {
      second = best;
      best = v;
      token = i;
    } else if (v > second) {
      second = v;
    }
  }
  return { token, margin: best - second };
}

export type GreedyComparison =
  | { kind: "identical"; steps: number }
  /** Diverged at `step` where the reference itself was a near-tie: allowed; later steps are not comparable. */
  | { kind: "forgiven_tie"; step: number; margin: number; steps: number }
  | { kind: "mismatch"; step: number; expected: number; actual: number; margin: number; steps: number };

/**
 * Compares greedy sequences token by token. A difference is forgiven only at the first differing step and only when
 * the reference margin there is below `tieMargin` (both choices are then equally right); after it the sequences are
 * conditioned on different tokens and are not compared further.
 */
export function compareGreedy(
  actual: readonly number[],
  expected: readonly number[],
  margins: readonly number[],
  tieMargin: number,
): GreedyComparison {
  const steps = expected.length;
  for (let i = 0; i < steps; i++) {
    if (actual[i] === expected[i]) continue;
    const margin = margins[i] ?? Number.POSITIVE_INFINITY;
    if (margin < tieMargin) return { kind: "forgiven_tie", step: i, margin, steps };
    return { kind: "mismatch", step: i, expected: expected[i], actual: actual[i] ?? -1, margin, steps };
  }
  return { kind: "identical", steps };
}
