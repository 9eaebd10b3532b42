import { describe, expect, it } from "vitest";
import { boxPlacement, parseGroundingBoxes } from "./grounding";

describe("parseGroundingBoxes", () => {
  it("reads a list in a ```json block", () => {
    const answer = [
      "Here are the objects:",
      "```json",
      '[{"bbox_2d": [10, 20, 500, 600], "label": "cat"}, {"bbox_2d": [600, 100, 990, 900], "label": "dog"}]',
      "```",
    ].join("\n");
    expect(parseGroundingBoxes(answer)).toEqual([
      { label: "cat", bbox: [10, 20, 500, 600] },
      { label: "dog", bbox: [600, 100, 990, 900] },
    ]);
  });

  it("reads bare objects between words, and a label holding brackets and quotes", () => {
    const answer =
      'The sign {"bbox_2d":[1,2,3,4],"label":"stop {\\"red\\"]"} and the car {"bbox_2d":[5,6,7,8],"label":"car"}.';
    expect(parseGroundingBoxes(answer)).toEqual([
      { label: 'stop {"red"]', bbox: [1, 2, 3, 4] },
      { label: "car", bbox: [5, 6, 7, 8] },
    ]);
  });

  it("skips other JSON, malformed boxes and an object still streaming", () => {
    const answer =
      '{"answer": 42} [1, 2] {"bbox_2d": [1, 2, 3], "label": "short"} {"bbox_2d": ["a", 2, 3, 4]} {"bbox_2d": [1, 2, 3, 4], "lab';
    expect(parseGroundingBoxes(answer)).toEqual([]);
  });

  it("reads an object without a label as an empty label", () => {
    expect(parseGroundingBoxes('{"bbox_2d": [0, 0, 1000, 1000]}')).toEqual([{ label: "", bbox: [0, 0, 1000, 1000] }]);
  });

  it("finds nothing in plain text", () => {
    expect(parseGroundingBoxes("A bar chart of monthly users [January to June].")).toEqual([]);
  });
});

describe("boxPlacement", () => {
  it("maps 0–1000 coordinates to percentages of the image", () => {
    expect(boxPlacement({ label: "a", bbox: [100, 250, 600, 750] })).toEqual({
      leftPct: 10,
      topPct: 25,
      widthPct: 50,
      heightPct: 50,
    });
  });

  it("orders swapped corners and clamps to the image", () => {
    expect(boxPlacement({ label: "a", bbox: [1200, 900, 800, -50] })).toEqual({
      leftPct: 80,
      topPct: 0,
      widthPct: 20,
      heightPct: 90,
    });
  });
});
