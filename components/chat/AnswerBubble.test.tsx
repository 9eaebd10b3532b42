import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { startTurn, type Turn } from "@/lib/client/chatTranscript";
import type { ImageId } from "@/lib/ids";
import { AnswerBubble } from "./AnswerBubble";

const IMAGE = "e".repeat(64) as ImageId;

function answered(answer: string): Turn {
  return { ...startTurn("t1", { text: "Where are the cat and the dog?", imageIds: [IMAGE] }), status: "done", answer };
}

describe("AnswerBubble grounding", () => {
  const grounding = answered(
    'Found them:\n```json\n[{"bbox_2d": [100, 200, 500, 600], "label": "cat"}, {"bbox_2d": [600, 0, 1000, 1000], "label": "dog"}]\n```',
  );

  it("draws each bbox_2d of a finished answer as a labelled box over the image, in percentages of it", () => {
    const html = renderToStaticMarkup(<AnswerBubble turn={grounding} groundingImage={IMAGE} />);
    expect(html).toContain(`src="/api/images/${IMAGE}?raw=1"`);
    const boxes = [...html.matchAll(/data-testid="grounding-box" data-label="([^"]*)"[^>]*style="([^"]*)"/g)].map(
      (m) => [m[1], m[2]],
    );
    expect(boxes).toEqual([
      ["cat", "left:10%;top:20%;width:40%;height:40%;border-color:#e11d48"],
      ["dog", "left:60%;top:0%;width:40%;height:100%;border-color:#2563eb"],
    ]);
  });

  it("draws nothing while the answer streams, or without an image to draw on", () => {
    const streaming = { ...grounding, status: "streaming" as const };
    expect(renderToStaticMarkup(<AnswerBubble turn={streaming} groundingImage={IMAGE} />)).not.toContain(
      "grounding-box",
    );
    expect(renderToStaticMarkup(<AnswerBubble turn={grounding} groundingImage={null} />)).not.toContain(
      "grounding-box",
    );
  });

  it("draws nothing for an answer without boxes", () => {
    expect(
      renderToStaticMarkup(<AnswerBubble turn={answered("A cat and a dog.")} groundingImage={IMAGE} />),
    ).not.toContain("grounding-box");
  });
});
