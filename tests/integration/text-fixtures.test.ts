import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { builtInChatTemplate, loadChatTemplate, type ChatMessage } from "@/lib/text/chatTemplate";
import { countImageParts, PromptBuilder } from "@/lib/text/prompt";
import { TextTokenizer } from "@/lib/text/tokenizer";

/**
 * Text side of the PyTorch parity fixtures (fixtures/parity/<name>): the tokenizer reproduces tokenizer_ref.json, and
 * each reference turn's `messages`, rendered with the fixture's chat template and the fixture's image grids, reproduce
 * its `input_ids` exactly — with the bundle's template and with vlcache's built-in one.
 */
const FIXTURES = path.resolve("fixtures/parity");
const names = readdirSync(FIXTURES).filter((name) => !name.startsWith("."));

interface FixtureTurn {
  messages: ChatMessage[];
  rendered: string;
  input_ids: number[];
}

const TURNS = ["turn1", "turn2", "text_only"] as const;

describe.each(names)("fixture %s", (name) => {
  const dir = path.join(FIXTURES, name);
  const reference = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8"));
  const grids = (reference.image_grid_thw as number[][]).map(([t, h, w]) => ({ t, h, w }));

  it("tokenizes every tokenizer_ref.json entry to the reference ids", async () => {
    const tokenizer = await TextTokenizer.load(path.join(dir, "model"));
    const entries = JSON.parse(readFileSync(path.join(dir, "tokenizer_ref.json"), "utf8")) as { text: string; ids: number[] }[];
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(tokenizer.encode(entry.text), entry.text).toEqual(entry.ids);
      // Qwen's tokenizer NFC-normalises before encoding, so decoding gives the text back in NFC.
      expect(tokenizer.decode(entry.ids)).toBe(entry.text.normalize("NFC"));
    }
  });

  it.each(["bundle", "built-in"] as const)("reproduces each turn's input_ids with the %s chat template", async (which) => {
    const modelDir = path.join(dir, "model");
    const tokenizer = await TextTokenizer.load(modelDir);
    const template = which === "bundle" ? await loadChatTemplate(modelDir, tokenizer.config) : await builtInChatTemplate();
    if (which === "bundle") expect(template.source).toBe("chat_template.jinja");
    const builder = new PromptBuilder(tokenizer, template, 2);
    const imagePad = tokenizer.tokenId("<|image_pad|>");
    for (const turnName of TURNS) {
      const turn = reference[turnName] as FixtureTurn;
      const images = countImageParts(turn.messages);
      const rendered = template.render(turn.messages, { addGenerationPrompt: true, variables: tokenizer.specialTokenVariables() });
      expect(rendered, turnName).toBe(turn.rendered);
      const prompt = builder.build(turn.messages, grids.slice(0, images));
      expect(prompt.inputIds, turnName).toEqual(turn.input_ids);
      expect(prompt.imageSpans.map((s) => s.length)).toEqual((reference.image_tokens as number[]).slice(0, images));
      expect(prompt.imageSpans.reduce((n, s) => n + s.length, 0)).toBe(turn.input_ids.filter((id) => id === imagePad).length);
    }
  });
});
