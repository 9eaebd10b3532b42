/**
 * The logits transformations of transformers' generation utilities, in the order `generate` applies them:
 * repetition penalty (a processor) → temperature → top-k → top-p (warpers) → softmax → draw.
 *
 * All functions work in place on one step's logits [V] (Float32Array, so each arithmetic result is rounded to fp32
 * exactly as torch does on fp32 scores). A removed token gets -Infinity, like transformers' `filter_value`.
 *
 * Those that need probabilities take an optional [V] float64 scratch `probs` to write them into: a sampler passes the
 * same one every step, because allocating 1.2 MB per token (151,936 × 8 bytes for Qwen3-VL) costs more than the
 * arithmetic. Its contents on entry do not matter.
 */

/** RepetitionPenaltyLogitsProcessor: every token already in the sequence has a positive logit divided by `penalty`
 *  and a negative one multiplied by it. Each distinct token is penalised once, however often it occurred. */
export function applyRepetitionPenalty(
  logits: Float32Array,
  previousTokenIds: Iterable<number>,
  penalty: number,
): void {
  if (penalty === 1) return;
  const seen = new Set<number>();
  for (const id of previousTokenIds) {
    if (seen.has(id)) continue;
    seen.add(id);
    if (!Number.isInteger(id) || id < 0 || id >= logits.length) {
      throw new RangeError(`token id ${id} outside the vocabulary [0, ${logits.length})`);
    }
    const score = logits[id];
    logits[id] = score < 0 ? score * penalty : score / penalty;
  }
}

/** TemperatureLogitsWarper: divides by the temperature (> 0; temperature 0 means greedy and never reaches here). */
export function applyTemperature(logits: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  for (let i = 0; i < logits.length; i++) logits[i] = logits[i] / temperature;
}

/** The k-th largest value (1-based) of `values`, by a size-k min-heap: O(V log k), k is small in practice. */
function kthLargest(values: Float32Array, k: number): number {
  const heap = new Float32Array(k);
  let size = 0;
  for (let v = 0; v < values.length; v++) {
    const value = values[v];
    if (size < k) {
      // Sift up.
      let i = size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent] <= value) break;
        heap[i] = heap[parent];
        i = parent;
      }
      heap[i] = value;
    } else if (value > heap[0]) {
      // Replace the minimum and sift down.
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        const child = right < size && heap[right] < heap[left] ? right : left;
        if (heap[child] >= value) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = value;
    }
  }
  return heap[0];
}

/** TopKLogitsWarper: removes every token whose logit is below the k-th largest. Ties with the k-th value are kept (as
 *  in transformers), so more than k tokens may survive. k = 0 or k ≥ V leaves the logits alone. */
export function applyTopK(logits: Float32Array, topK: number): void {
  if (topK <= 0 || topK >= logits.length) return;
  const threshold = kthLargest(logits, topK);
  for (let i = 0; i < logits.length; i++) if (logits[i] < threshold) logits[i] = -Infinity;
}

/** Softmax over [V] in float64 (max-subtracted), into `probs`; -Infinity logits get probability 0. */
export function softmax(logits: Float32Array, probs: Float64Array = new Float64Array(logits.length)): Float64Array {
  if (probs.length !== logits.length) throw new RangeError(`probs holds ${probs.length} values for ${logits.length}`);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) throw new RangeError("every logit is -Infinity: nothing to sample");
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    // Removed tokens get 0 without an exp call: after top-k almost the whole vocabulary is -Infinity.
    if (logits[i] === -Infinity) {
      probs[i] = 0;
      continue;
    }
    const p = Math.exp(logits[i] - max);
    probs[i] = p;
    total += p;
  }
  for (let i = 0; i < probs.length; i++) if (probs[i] !== 0) probs[i] /= total;
  return probs;
}

/**
 * TopPLogitsWarper (nucleus): transformers sorts ascending and removes each token whose cumulative probability is
 * ≤ 1 − top_p, always keeping the most likely token. Read from the top down that is: a token is kept while the mass of
 * the tokens ranked above it is < top_p. Equal probabilities rank by lower token id first.
 *
 * Sorting all V probabilities every step would dominate sampling time, so only a candidate set is sorted: the tokens
 * with p ≥ cutoff, where the cutoff is lowered geometrically from the top probability until the set holds ≥ top_p of
 * the mass. No token below such a cutoff can be kept (the mass above it already reaches top_p).
 */
export function applyTopP(logits: Float32Array, topP: number, probs?: Float64Array): void {
  if (topP >= 1) return;
  probs = softmax(logits, probs);
  let cutoff = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > cutoff) cutoff = probs[i];
  let count = 0;
  for (;;) {
    let mass = 0;
    count = 0;
    for (let i = 0; i < probs.length; i++) {
      if (probs[i] >= cutoff) {
        mass += probs[i];
        count++;
      }
    }
    if (mass >= topP || cutoff === 0) break;
    cutoff = cutoff / 16 < Number.MIN_VALUE ? 0 : cutoff / 16;
  }
  const candidates = new Float64Array(count);
  for (let i = 0, c = 0; i < probs.length; i++) if (probs[i] >= cutoff) candidates[c++] = probs[i];
  candidates.sort();
  // Walk down from the largest probability; `rank` ends just below the smallest kept one.
  let massAbove = 0;
  let rank = candidates.length - 1;
  let kept = 0;
  while (rank >= 0 && candidates[rank] > 0 && (kept === 0 || massAbove < topP)) {
    massAbove += candidates[rank];
    kept++;
    rank--;
  }
  const smallestKept = candidates[rank + 1];
  let strictlyAbove = 0;
  for (let r = candidates.length - 1; r > rank && candidates[r] > smallestKept; r--) strictlyAbove++;
  let tiesLeft = kept - strictlyAbove;
  for (let i = 0; i < logits.length; i++) {
    if (probs[i] > smallestKept) continue;
    if (probs[i] === smallestKept && tiesLeft > 0) {
      tiesLeft--;
      continue;
    }
    logits[i] = -Infinity;
  }
}

/** Index of the largest logit; ties go to the lowest index (torch.argmax's choice). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Draws a token from softmax(logits) by inverse CDF over token ids with one uniform number u ∈ [0, 1). */
export function drawFromLogits(logits: Float32Array, u: number, probs?: Float64Array): number {
  probs = softmax(logits, probs);
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) continue;
    cumulative += probs[i];
    last = i;
    if (u < cumulative) return i;
  }
  // Rounding can leave the running sum a hair below 1; u then belongs to the last token with mass.
  return last;
}
