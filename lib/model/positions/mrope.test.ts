import { describe, expect, it } from "vitest";
import { Qwen3VLForConditionalGeneration, Tensor } from "@huggingface/transformers";
import { imageTokenCount } from "@/lib/images/preprocess/imageGrid";
import { decodePositions, getRopeIndex, MropeError, slicePositions } from "./mrope";

const ids = { imageTokenId: 9, visionStartTokenId: 7 };
const VS = 7; // <|vision_start|>
const I = 9; // <|image_pad|>
const VE = 8; // <|vision_end|>

function errorOf(fn: () => unknown): MropeError | undefined {
  try {
    fn();
  } catch (e) {
    return e as MropeError;
  }
  return undefined;
}

function rows(p: { positionIds: BigInt64Array; length: number }): number[][] {
  const n = p.length;
  return [0, 1, 2].map((r) => Array.from(p.positionIds.subarray(r * n, (r + 1) * n), Number));
}

describe("getRopeIndex", () => {
  it("gives text-only prompts the same 0..S-1 ids in all three rows and a zero delta", () => {
    const p = getRopeIndex([1, 2, 3, 4], [], ids, 2);
    expect(rows(p)).toEqual([
      [0, 1, 2, 3],
      [0, 1, 2, 3],
      [0, 1, 2, 3],
    ]);
    expect(p.ropeDelta).toBe(0);
  });

  it("lays out one image's merged grid row by row and continues text after max + 1", () => {
    // grid (1, 4, 6) with merge 2 → 2 rows × 3 columns = 6 image tokens starting at id 2.
    const seq = [1, VS, I, I, I, I, I, I, VE, 5, 6];
    const p = getRopeIndex(seq, [{ t: 1, h: 4, w: 6 }], ids, 2);
    expect(rows(p)).toEqual([
      [0, 1, 2, 2, 2, 2, 2, 2, 5, 6, 7],
      [0, 1, 2, 2, 2, 3, 3, 3, 5, 6, 7],
      [0, 1, 2, 3, 4, 2, 3, 4, 5, 6, 7],
    ]);
    // largest id 7, 11 tokens → the next token (index 11) gets 11 - 3 = 8.
    expect(p.ropeDelta).toBe(-3);
  });

  it("starts the second image from the max of everything before it", () => {
    // image A grid (1, 2, 4): 1 × 2 tokens; image B grid (1, 4, 2): 2 × 1 tokens.
    const seq = [VS, I, I, VE, VS, I, I, VE, 3];
    const p = getRopeIndex(
      seq,
      [
        { t: 1, h: 2, w: 4 },
        { t: 1, h: 4, w: 2 },
      ],
      ids,
      2,
    );
    expect(rows(p)).toEqual([
      [0, 1, 1, 3, 4, 5, 5, 7, 8],
      [0, 1, 1, 3, 4, 5, 6, 7, 8],
      [0, 1, 2, 3, 4, 5, 5, 7, 8],
    ]);
    expect(p.ropeDelta).toBe(0);
  });

  it("advances the temporal row for grids with t > 1", () => {
    const seq = [VS, I, I, VE];
    const p = getRopeIndex(seq, [{ t: 2, h: 2, w: 2 }], ids, 2);
    expect(rows(p)).toEqual([
      [0, 1, 2, 3],
      [0, 1, 1, 3],
      [0, 1, 1, 3],
    ]);
    expect(p.ropeDelta).toBe(0);
  });

  it("rejects a grid count that does not match the prompt's images", () => {
    expect(() => getRopeIndex([VS, I, VE], [], ids, 2)).toThrow(MropeError);
    expect(errorOf(() => getRopeIndex([1, 2], [{ t: 1, h: 2, w: 2 }], ids, 2))?.code).toBe("image_count_mismatch");
  });

  it("rejects an image with too few image tokens for its grid", () => {
    const call = () => getRopeIndex([VS, I, I, VE], [{ t: 1, h: 4, w: 4 }], ids, 2);
    expect(call).toThrow(/needs 4 consecutive image tokens/);
  });

  it("rejects grids not divisible by the merge size", () => {
    const call = () => getRopeIndex([VS, I, VE], [{ t: 1, h: 3, w: 2 }], ids, 2);
    expect(call).toThrow(/divisible by 2/);
  });
});

describe("position helpers", () => {
  it("slices columns of the [3, S] table", () => {
    const p = getRopeIndex([1, VS, I, I, I, I, I, I, VE, 5, 6], [{ t: 1, h: 4, w: 6 }], ids, 2);
    expect(Array.from(slicePositions(p, 4, 6), Number)).toEqual([2, 2, 2, 3, 4, 2]);
    expect(() => slicePositions(p, 5, 12)).toThrow(RangeError);
  });

  it("continues decode positions from the rope delta", () => {
    expect(Array.from(decodePositions(11, -3), Number)).toEqual([8, 8, 8]);
  });
});

describe("agreement with transformers.js's get_rope_index (an independent port of the same Python)", () => {
  // The method reads only `this.config`; an instance without sessions is enough.
  const reference = Object.create(Qwen3VLForConditionalGeneration.prototype) as {
    config: object;
    get_rope_index(ids: Tensor, grid: Tensor | null, video: null, mask: null): [Tensor, Tensor];
  };
  reference.config = {
    image_token_id: I,
    video_token_id: 10,
    vision_start_token_id: VS,
    vision_config: { spatial_merge_size: 2 },
  };

  function randomPrompt(seed: number): { seq: number[]; grids: { t: number; h: number; w: number }[] } {
    let state = seed;
    const next = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % n;
    };
    const seq: number[] = [];
    const grids: { t: number; h: number; w: number }[] = [];
    const images = next(4);
    for (let k = 0; k < images; k++) {
      for (let j = next(5); j > 0; j--) seq.push(1 + next(5));
      const grid = { t: 1, h: 2 * (1 + next(4)), w: 2 * (1 + next(4)) };
      grids.push(grid);
      seq.push(VS, ...new Array<number>(imageTokenCount(grid, 2)).fill(I), VE);
    }
    for (let j = 1 + next(5); j > 0; j--) seq.push(1 + next(5));
    return { seq, grids };
  }

  it("gives identical ids and deltas on 40 random prompts, many with several images", () => {
    let withImages = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { seq, grids } = randomPrompt(seed);
      if (grids.length > 1) withImages++;
      const ours = getRopeIndex(seq, grids, ids, 2);
      const idsTensor = new Tensor("int64", BigInt64Array.from(seq, BigInt), [1, seq.length]);
      const gridTensor = grids.length
        ? new Tensor(
            "int64",
            BigInt64Array.from(
              grids.flatMap((g) => [g.t, g.h, g.w]),
              BigInt,
            ),
            [grids.length, 3],
          )
        : null;
      const [pos, delta] = reference.get_rope_index(idsTensor, gridTensor, null, null);
      expect(Array.from(ours.positionIds)).toEqual(Array.from(pos.data as BigInt64Array));
      expect(BigInt(ours.ropeDelta)).toBe(BigInt((delta.data as BigInt64Array)[0]));
    }
    expect(withImages).toBeGreaterThan(5);
  });
});
