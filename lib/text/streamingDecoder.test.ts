import { beforeAll, describe, expect, it } from "vitest";
import { StreamingDecoder } from "@/lib/text/streamingDecoder";
import { TextTokenizer } from "@/lib/text/tokenizer";
import { QWEN3_TOKENIZER_DIR } from "@/tests/support/qwen3Tokenizer";

let tokenizer: TextTokenizer;
beforeAll(async () => {
  tokenizer = await TextTokenizer.load(QWEN3_TOKENIZER_DIR);
});

function stream(ids: number[], skipSpecialTokens = false): string[] {
  const decoder = new StreamingDecoder((slice) => tokenizer.decode(slice, { skipSpecialTokens }));
  const pieces = ids.map((id) => decoder.push(id));
  pieces.push(decoder.flush());
  return pieces;
}

describe("StreamingDecoder", () => {
  it.each([
    "Hello, world! Plain ASCII with  double spaces\tand tabs.\n",
    "Emoji 🦀🫠𠜎 and flags 🇩🇪, CJK 你好世界, accents déjà vu, ZWJ 👩‍👩‍👧",
    "Mixed: 数学公式 ∑ x² ≤ ∞ — done.",
  ])("concatenates to the full decode and never splits a character: %s", (text) => {
    const ids = tokenizer.encode(text);
    const pieces = stream(ids);
    expect(pieces.join("")).toBe(text);
    expect(pieces.join("")).toBe(tokenizer.decode(ids));
    for (const piece of pieces) expect(piece).not.toContain("\uFFFD");
  });

  it("holds back the bytes of a character spread over several tokens", () => {
    const ids = tokenizer.encode("🫠");
    expect(ids.length).toBeGreaterThan(1);
    const pieces = stream(ids);
    expect(pieces.slice(0, -2).every((p) => p === "")).toBe(true);
    expect(pieces.join("")).toBe("🫠");
  });

  it("can skip special tokens", () => {
    const ids = tokenizer.encode("Answer.<|im_end|>");
    expect(stream(ids, true).join("")).toBe("Answer.");
    expect(stream(ids, false).join("")).toBe("Answer.<|im_end|>");
  });

  it("flushes an incomplete trailing character as U+FFFD, as a full decode does", () => {
    const ids = tokenizer.encode("ok 🫠");
    const cut = ids.slice(0, -1);
    const pieces = stream(cut);
    expect(pieces.join("")).toBe(tokenizer.decode(cut));
    expect(pieces.at(-1)).toContain("\uFFFD");
  });

  it("keeps per-token work bounded by decoding only a short window", () => {
    let longest = 0;
    const decoder = new StreamingDecoder((slice) => {
      longest = Math.max(longest, slice.length);
      return tokenizer.decode(slice);
    });
    const ids = tokenizer.encode("word ".repeat(500));
    let text = "";
    for (const id of ids) text += decoder.push(id);
    expect(text + decoder.flush()).toBe("word ".repeat(500));
    expect(longest).toBeLessThanOrEqual(3);
  });
});
