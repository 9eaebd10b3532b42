import { describe, expect, it } from "vitest";
import type { ImageId } from "@/lib/ids";
import { startTurn } from "../chatTranscript";
import { savedTurns } from "./chatRecord";
import { chatTitle, IMAGE_ONLY_TITLE, TITLE_MAX_CHARS, titleFromQuestion, UNTITLED } from "./chatTitle";

const image = "d".repeat(64) as ImageId;
const ask = (text: string, imageIds: ImageId[] = []) => ({ text, imageIds });

describe("chat titles", () => {
  it("uses a short first question as it is, spaces collapsed", () => {
    expect(titleFromQuestion(ask("  Which   month had\tthe most users? "))).toBe("Which month had the most users?");
  });

  it("takes the first non-blank line", () => {
    expect(titleFromQuestion(ask("\n\n  Read the table.\nThen sum column B."))).toBe("Read the table.");
  });

  it("cuts a long question at a word boundary with an ellipsis, within the limit", () => {
    const title = titleFromQuestion(
      ask("Describe the trend from January to June in great detail, month by month please"),
    );
    expect(title).toBe("Describe the trend from January to June in…");
    expect(title.length).toBeLessThanOrEqual(TITLE_MAX_CHARS);
  });

  it("cuts inside a word when no space comes late enough", () => {
    const title = titleFromQuestion(ask(`Why ${"x".repeat(80)}`));
    expect(title).toBe(`Why ${"x".repeat(TITLE_MAX_CHARS - 5)}…`);
    expect(title.length).toBe(TITLE_MAX_CHARS);
  });

  it("names a question without text by its image", () => {
    expect(titleFromQuestion(ask("   ", [image]))).toBe(IMAGE_ONLY_TITLE);
    expect(titleFromQuestion(ask(""))).toBe(UNTITLED);
  });

  it("prefers the user's title, else the first question's, else New chat", () => {
    const turns = savedTurns([startTurn("turn-1", ask("What is this?")), startTurn("turn-2", ask("More?"))]);
    expect(chatTitle({ customTitle: "Receipts", turns })).toBe("Receipts");
    expect(chatTitle({ customTitle: null, turns })).toBe("What is this?");
    expect(chatTitle({ customTitle: null, turns: [] })).toBe(UNTITLED);
  });
});
