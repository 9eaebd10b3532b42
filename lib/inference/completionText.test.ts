import { beforeAll, describe, expect, it } from "vitest";
import { TextTokenizer } from "@/lib/text/tokenizer";
import { QWEN3_TOKENIZER_DIR } from "@/tests/support/qwen3Tokenizer";
import { CompletionText } from "./completionText";

let tokenizer: TextTokenizer;
let imEnd: number;
beforeAll(async () => {
  tokenizer = await TextTokenizer.load(QWEN3_TOKENIZER_DIR);
  imEnd = tokenizer.tokenId("<|im_end|>");
});

function completion(stop: string[] = []): CompletionText {
  return new CompletionText((ids) => tokenizer.decode(ids, { skipSpecialTokens: true }), new Set([imEnd]), stop);
}

/** Pushes ids until the answer stops; returns the pieces, whether it stopped, and how many ids were consumed. */
function run(text: CompletionText, ids: number[]): { pieces: string[]; stopped: boolean; consumed: number } {
  const pieces: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const step = text.push(ids[i]);
    pieces.push(step.text);
    if (step.stopped) return { pieces, stopped: true, consumed: i + 1 };
  }
  pieces.push(text.finish());
  return { pieces, stopped: false, consumed: ids.length };
}

describe("CompletionText", () => {
  it("streams an answer that ends at the token limit: pieces concatenate to the full decode", () => {
    const answer = "Caches: L1 🦀 features, L2 prefixes, L3 答案.";
    const ids = tokenizer.encode(answer);
    const text = completion();
    const { pieces, stopped } = run(text, ids);
    expect(stopped).toBe(false);
    expect(pieces.join("")).toBe(answer);
    expect(text.text).toBe(answer);
    for (const piece of pieces) expect(piece).not.toContain("\uFFFD");
  });

  it("ends at a stop token, which adds no text, and releases the text held back", () => {
    const ids = [...tokenizer.encode("Done 🫠"), imEnd, ...tokenizer.encode(" never shown")];
    const text = completion();
    const { pieces, stopped, consumed } = run(text, ids);
    expect(stopped).toBe(true);
    expect(consumed).toBe(ids.indexOf(imEnd) + 1);
    expect(pieces.join("")).toBe("Done 🫠");
  });

  it("cuts the answer right before a stop string split across tokens; nothing after it is emitted", () => {
    const ids = tokenizer.encode("The answer is 42.\nObservation: ignored text");
    const text = completion(["\nObservation:"]);
    const { pieces, stopped, consumed } = run(text, ids);
    expect(stopped).toBe(true);
    expect(consumed).toBeLessThan(ids.length);
    expect(pieces.join("")).toBe("The answer is 42.");
    expect(text.text).toBe("The answer is 42.");
  });

  it("releases a held possible stop-string beginning when the answer ends otherwise", () => {
    const ids = tokenizer.encode("value: END");
    const { pieces, stopped } = run(completion(["END OF ANSWER"]), ids);
    expect(stopped).toBe(false);
    expect(pieces.join("")).toBe("value: END");
  });

  it("refuses tokens after the answer ended", () => {
    const text = completion();
    text.push(imEnd);
    expect(() => text.push(imEnd)).toThrow(/after the answer ended/);
    expect(text.finish()).toBe("");
  });
});
