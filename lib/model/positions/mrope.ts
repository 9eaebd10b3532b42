/**
 * Multimodal rotary positions (M-RoPE) for Qwen3-VL, mirroring transformers' `Qwen3VLModel.get_rope_index`
 * for one unpadded sequence of text and images.
 *
 * Every token gets three position ids (temporal, height, width):
 * - a text token gets the same value in all three, one more than the largest id used before it;
 * - an image of grid (t, h, w) patches covers t·(h/m)·(w/m) `<|image_pad|>` tokens (m = spatial merge size), laid
 *   out t-major, then row, then column; each gets (start + ti, start + row, start + col) where start is one more than
 *   the largest id before the image;
 * - so the text after an image continues from max(id inside the image) + 1, not from its token index.
 *
 * The ids are therefore not a function of the token index, and `ropeDelta` = (largest id + 1) − sequence length
 * tells decode steps where to continue: the token at index p (≥ sequence length) gets p + ropeDelta in all three.
 *
 * Pure: no I/O, no tensors. Layout of `positionIds`: [3, S] row-major (the decoder input `position_ids` [3, B, S]
 * for B = 1).
 */

import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";

export interface MropeTokenIds {
  readonly imageTokenId: number;
  readonly visionStartTokenId: number;
}

export interface MropePositions {
  /** [3, S] row-major: t ids, then h ids, then w ids. */
  readonly positionIds: BigInt64Array;
  readonly length: number;
  /** max(positionIds) + 1 − S; decode position of token index p is p + ropeDelta. */
  readonly ropeDelta: number;
}

export type MropeErrorCode = "image_count_mismatch" | "image_tokens_mismatch" | "bad_grid";

export class MropeError extends Error {
  readonly code: MropeErrorCode;
  constructor(code: MropeErrorCode, message: string) {
    super(message);
    this.name = "MropeError";
    this.code = code;
  }
}

function checkGrid(grid: ImageGrid, spatialMergeSize: number): void {
  const ok =
    [grid.t, grid.h, grid.w].every((d) => Number.isInteger(d) && d > 0) &&
    grid.h % spatialMergeSize === 0 &&
    grid.w % spatialMergeSize === 0;
  if (!ok) {
    throw new MropeError(
      "bad_grid",
      `image grid (${grid.t}, ${grid.h}, ${grid.w}) must be positive integers with h and w divisible by ${spatialMergeSize}`,
    );
  }
}

/**
 * Position ids for a whole sequence. Images are the `<|vision_start|>` tokens directly followed by an image token
 * (as in transformers); the i-th such image uses `imageGrids[i]` and must be followed by exactly its token count of
 * image tokens.
 */
export function getRopeIndex(
  inputIds: ArrayLike<number>,
  imageGrids: readonly ImageGrid[],
  tokenIds: MropeTokenIds,
  spatialMergeSize: number,
): MropePositions {
  const n = inputIds.length;
  let imageCount = 0;
  for (let i = 0; i + 1 < n; i++) {
    if (inputIds[i] === tokenIds.visionStartTokenId && inputIds[i + 1] === tokenIds.imageTokenId) imageCount++;
  }
  if (imageCount !== imageGrids.length) {
    throw new MropeError(
      "image_count_mismatch",
      `the prompt holds ${imageCount} image(s) but ${imageGrids.length} image grid(s) were given`,
    );
  }

  const t = new Array<number>(n);
  const h = new Array<number>(n);
  const w = new Array<number>(n);
  // nextId = max id assigned so far + 1 (0 before anything), the start of the next segment.
  let nextId = 0;
  let st = 0;
  const textRun = (end: number): void => {
    for (let i = st; i < end; i++) t[i] = h[i] = w[i] = nextId + (i - st);
    if (end > st) nextId += end - st;
    st = end;
  };

  for (const grid of imageGrids) {
    checkGrid(grid, spatialMergeSize);
    let ed = st;
    while (ed < n && inputIds[ed] !== tokenIds.imageTokenId) ed++;
    textRun(ed);
    const gh = grid.h / spatialMergeSize;
    const gw = grid.w / spatialMergeSize;
    const count = grid.t * gh * gw;
    if (ed + count > n || !allEqual(inputIds, ed, ed + count, tokenIds.imageTokenId)) {
      throw new MropeError(
        "image_tokens_mismatch",
        `image at token ${ed} needs ${count} consecutive image tokens for grid (${grid.t}, ${grid.h}, ${grid.w})`,
      );
    }
    const start = nextId;
    let i = ed;
    for (let ti = 0; ti < grid.t; ti++) {
      for (let row = 0; row < gh; row++) {
        for (let col = 0; col < gw; col++) {
          t[i] = start + ti;
          h[i] = start + row;
          w[i] = start + col;
          i++;
        }
      }
    }
    nextId = start + Math.max(grid.t, gh, gw);
    st = ed + count;
  }
  textRun(n);

  const positionIds = new BigInt64Array(3 * n);
  for (let i = 0; i < n; i++) {
    positionIds[i] = BigInt(t[i]);
    positionIds[n + i] = BigInt(h[i]);
    positionIds[2 * n + i] = BigInt(w[i]);
  }
  return { positionIds, length: n, ropeDelta: nextId - n };
}

function allEqual(ids: ArrayLike<number>, from: number, to: number, value: number): boolean {
  for (let i = from; i < to; i++) if (ids[i] !== value) return false;
  return true;
}

/** Columns [from, to) of a [3, S] position table, as a new [3, to − from] table (prefill of a suffix). */
export function slicePositions(positions: MropePositions, from: number, to: number): BigInt64Array {
  if (from < 0 || to > positions.length || from > to) {
    throw new RangeError(`position slice [${from}, ${to}) outside [0, ${positions.length})`);
  }
  const n = positions.length;
  const len = to - from;
  const out = new BigInt64Array(3 * len);
  for (let r = 0; r < 3; r++) out.set(positions.positionIds.subarray(r * n + from, r * n + to), r * len);
  return out;
}

/** [3, 1] position ids of the token at index `tokenIndex` (≥ prompt length) during decode. */
export function decodePositions(tokenIndex: number, ropeDelta: number): BigInt64Array {
  const p = BigInt(tokenIndex + ropeDelta);
  return BigInt64Array.of(p, p, p);
}
