import { describe, expect, it } from "vitest";
import { ImagePreprocessError } from "@/lib/images/preprocess/errors";
import { roundHalfToEven, smartResize } from "@/lib/images/preprocess/smartResize";

const QWEN2 = { factor: 28, min: 56 * 56, max: 28 * 28 * 1280 };
const QWEN3 = { factor: 32, min: 65536, max: 16777216 };

describe("roundHalfToEven", () => {
  it("rounds halves to the even neighbour like Python's round", () => {
    expect([0.5, 1.5, 2.5, 3.5, 22.5].map(roundHalfToEven)).toEqual([0, 2, 2, 4, 22]);
    expect([2.4999, 2.5001, 7, 0].map(roundHalfToEven)).toEqual([2, 3, 7, 0]);
  });
});

describe("smartResize", () => {
  // Expected sizes worked out from the reference formula (transformers' smart_resize), e.g. 477×720 at factor 32:
  // 477/32 = 14.9 → 15·32 = 480, 720/32 = 22.5 → 22 (half to even) → 704; the area is within bounds.
  it.each([
    ["rounds each side to the nearest multiple", 480, 640, QWEN2, [476, 644]],
    ["rounds halves to even", 477, 720, QWEN3, [480, 704]],
    ["rounds 2.5 and 3.5 to 2 and 4", 112, 80, { factor: 32, min: 1024, max: 16777216 }, [128, 64]],
    ["keeps sizes that already fit", 768, 1024, QWEN3, [768, 1024]],
    // 1008·1988 > max → beta = sqrt(2e6 / 1003520) = 1.4117 → floor(25.30)·28, floor(50.59)·28
    ["scales down into max_pixels", 1000, 2000, QWEN2, [700, 1400]],
    // 3008·4000 > 2^20 → beta = 3.383 → floor(27.7)·32, floor(36.9)·32
    ["scales a photo down into a small budget", 3000, 4000, { factor: 32, min: 65536, max: 1048576 }, [864, 1152]],
    // 64·64 < 65536 → beta = sqrt(65536 / 6400) = 3.2 → ceil(8)·32
    ["scales up into min_pixels", 80, 80, QWEN3, [256, 256]],
    ["keeps extreme (≤ 200) aspect ratios", 50, 9000, QWEN3, [64, 8992]],
  ] as const)("%s", (_name, height, width, b, expected) => {
    const [h, w] = smartResize(height, width, b.factor, b.min, b.max);
    expect([h, w]).toEqual(expected);
    expect(h % b.factor).toBe(0);
    expect(w % b.factor).toBe(0);
  });

  it("refuses a side shorter than the factor", () => {
    expect(() => smartResize(31, 500, 32, 1024, 1 << 24)).toThrow(ImagePreprocessError);
    expect(() => smartResize(500, 20, 32, 1024, 1 << 24)).toThrow(
      expect.objectContaining({ code: "image_too_small", fault: "request" }),
    );
  });

  it("refuses aspect ratios above 200", () => {
    expect(() => smartResize(32, 6433, 32, 1024, 1 << 24)).toThrow(/aspect ratio/);
    expect(() => smartResize(32, 6400, 32, 1024, 1 << 24)).not.toThrow();
  });

  it("never returns a zero side under a tiny pixel budget", () => {
    // beta = sqrt(64·6400 / 4096) = 10 → floor(0.2)·32 = 0 is lifted to 32; floor(20)·32 = 640.
    expect(smartResize(64, 6400, 32, 32 * 32, 32 * 32 * 4)).toEqual([32, 640]);
  });
});
