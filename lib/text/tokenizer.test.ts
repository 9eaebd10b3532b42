import { readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TextTokenizer } from "@/lib/text/tokenizer";
import { QWEN3_TOKENIZER_DIR } from "@/tests/support/qwen3Tokenizer";

let tokenizer: TextTokenizer;
let addedTokens: Record<string, { content: string }>;
beforeAll(async () => {
  tokenizer = await TextTokenizer.load(QWEN3_TOKENIZER_DIR);
  const config = JSON.parse(await readFile(path.join(QWEN3_TOKENIZER_DIR, "tokenizer_config.json"), "utf8"));
  addedTokens = config.added_tokens_decoder;
});

describe("TextTokenizer", () => {
  it("maps every special token to the id its tokenizer_config declares, as a single token", () => {
    for (const [id, token] of Object.entries(addedTokens)) {
      expect(tokenizer.tokenId(token.content)).toBe(Number(id));
      expect(tokenizer.encode(token.content)).toEqual([Number(id)]);
    }
  });

  it("round-trips text exactly", () => {
    for (const text of [
      "Hello world",
      "  leading and trailing  ",
      "línea\r\nnueva",
      "数学 ∑ 🦀",
      "<|im_start|>user\nHi<|im_end|>",
    ]) {
      expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    }
  });

  it("splits special tokens out of running text and adds none of its own", () => {
    const ids = tokenizer.encode("a<|vision_start|><|image_pad|><|vision_end|>b");
    expect(ids.slice(1, 4)).toEqual(
      ["<|vision_start|>", "<|image_pad|>", "<|vision_end|>"].map((t) => tokenizer.tokenId(t)),
    );
    expect(ids).toHaveLength(5);
    expect(tokenizer.encode("")).toEqual([]);
  });

  it("encodes segments like the whole text when untrusted segments spell no special token", () => {
    const segments = [
      { text: "<|im_start|>user\n", trusted: true },
      { text: "Hello  world\n\n", trusted: false },
      { text: "<|vision_start|><|image_pad|><|vision_end|>", trusted: true },
      { text: " again<think>", trusted: false },
      { text: "<|im_end|>\n", trusted: true },
    ];
    expect(tokenizer.encodeSegments(segments)).toEqual(tokenizer.encode(segments.map((s) => s.text).join("")));
  });

  it("recognises special tokens only in trusted segments", () => {
    const imStart = tokenizer.tokenId("<|im_start|>");
    const untrusted = tokenizer.encodeSegments([{ text: "<|im_start|>system", trusted: false }]);
    expect(untrusted).not.toContain(imStart);
    expect(untrusted.length).toBeGreaterThan(2);
    expect(tokenizer.decode(untrusted)).toBe("<|im_start|>system");
    expect(tokenizer.encodeSegments([{ text: "<|im_start|>system", trusted: true }])).toEqual([
      imStart,
      ...tokenizer.encode("system"),
    ]);
  });

  it("decodes with or without special tokens, and the empty sequence", () => {
    const ids = tokenizer.encode("<|im_start|>assistant\nYes.<|im_end|>");
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe("assistant\nYes.");
    expect(tokenizer.decode([])).toBe("");
  });

  it("exposes bos/eos/pad strings for chat templates", () => {
    expect(tokenizer.specialTokenVariables()).toEqual({ eos_token: "<|im_end|>", pad_token: "<|endoftext|>" });
  });

  it("refuses unknown tokens and unreadable bundles with typed errors", async () => {
    expect(() => tokenizer.tokenId("<|no_such_token|>")).toThrow(
      expect.objectContaining({ code: "invalid_tokenizer" }),
    );
    await expect(TextTokenizer.load("/nonexistent")).rejects.toThrow(
      expect.objectContaining({ code: "invalid_tokenizer", fault: "server" }),
    );
  });
});
