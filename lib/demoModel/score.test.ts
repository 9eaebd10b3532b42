import { describe, expect, it } from "vitest";
import { iou, parseGrounding, scoreAnswer, scoreTable } from "./score";

const save = '{"bbox_2d": [100, 200, 300, 400], "label": "Save"}';

describe("demo model scoring", () => {
  it("parses Qwen3-VL grounding answers and nothing else", () => {
    expect(parseGrounding(save)).toEqual({ box: [100, 200, 300, 400], label: "Save" });
    expect(parseGrounding('{"bbox_2d":[1,2,3,4],"label":"OK"}')).toEqual({ box: [1, 2, 3, 4], label: "OK" });
    expect(parseGrounding("The Save button is disabled.")).toBeNull();
    expect(parseGrounding('{"bbox_2d": [1, 2, 3], "label": "OK"}')).toBeNull();
  });

  it("computes intersection over union", () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
  });

  it("accepts a box with the right label and IoU ≥ 0.5, and exact text otherwise", () => {
    expect(scoreAnswer(save, '{"bbox_2d": [110, 210, 300, 400], "label": "Save"}')).toEqual({
      correct: true,
      iou: (190 * 190) / (200 * 200),
    });
    expect(scoreAnswer(save, '{"bbox_2d": [100, 200, 300, 400], "label": "Open"}').correct).toBe(false);
    expect(scoreAnswer(save, '{"bbox_2d": [250, 200, 450, 400], "label": "Save"}')).toMatchObject({ correct: false });
    expect(scoreAnswer(save, "no idea")).toEqual({ correct: false, iou: 0 });
    expect(scoreAnswer('It says "OPEN".', 'It says "OPEN".')).toEqual({ correct: true, iou: null });
    expect(scoreAnswer('It says "OPEN".', 'It says "OPEN"')).toEqual({ correct: false, iou: null });
  });

  it("tabulates per family", () => {
    const table = scoreTable([
      { family: "gui", correct: true, iou: 0.8 },
      { family: "gui", correct: false, iou: 0.6 },
      { family: "gui", correct: false, iou: null },
      { family: "text", correct: true, iou: null },
    ]);
    expect(table).toEqual({
      gui: { questions: 3, correct: 1, correctPct: 33.3, boxes: 2, iouAtLeastHalfPct: 100 },
      text: { questions: 1, correct: 1, correctPct: 100, boxes: 0, iouAtLeastHalfPct: null },
    });
  });
});
