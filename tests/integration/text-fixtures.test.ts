import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { comparePrompts } from "@/lib/model/parity/checks/chatPrompt";
import { compareTokenizer } from "@/lib/model/parity/checks/tokenizer";
import { loadFixture, TURN_NAMES } from "@/lib/model/parity/fixture";
import { builtInChatTemplate, loadChatTemplate, type ChatMessage } from "@/lib/text/chatTemplate";
import { TextTokenizer } from "@/lib/text/tokenizer";

/**
 * Text side of the PyTorch parity fixtures (fixtures/parity/<name>): the tokenizer reproduces tokenizer_ref.json, and
 * each reference turn's `messages`, rendered with a chat template and the fixture's image grids, reproduce its
 * `input_ids` exactly — with the checkpoint's template and with vlcache's built-in one.
 */
const FIXTURES = path.resolve("fixtures/parity");
const names = readdirSync(FIXTURES).filter((name) => !name.startsWith("."));

describe.each(names)("fixture %s", (name) => {
  const dir = path.join(FIXTURES, name);

  it("tokenizes every tokenizer_ref.json entry to the reference ids", async () => {
    const fixture = await loadFixture(dir);
    const result = await compareTokenizer(fixture);
    expect(result?.total).toBeGreaterThan(0);
    expect(result?.mismatches).toEqual([]);
  });

  it.each(["checkpoint", "built-in"] as const)(
    "reproduces each turn's rendering and input_ids with the %s template",
    async (which) => {
      const fixture = await loadFixture(dir);
      const tokenizer = await TextTokenizer.load(fixture.modelDir);
      const template =
        which === "checkpoint"
          ? await loadChatTemplate(fixture.modelDir, tokenizer.config)
          : await builtInChatTemplate();
      expect(template.source).toBe(which === "checkpoint" ? "chat_template.jinja" : "built-in");
      for (const turn of TURN_NAMES) {
        const reference = fixture.reference[turn] as unknown as { messages: ChatMessage[]; rendered: string };
        const rendered = template.render(reference.messages, {
          addGenerationPrompt: true,
          variables: tokenizer.specialTokenVariables(),
        });
        expect(rendered, turn).toBe(reference.rendered);
      }
      const comparisons = await comparePrompts(fixture, template);
      expect(comparisons.map((c) => c.turn)).toEqual([...TURN_NAMES]);
      for (const c of comparisons) {
        expect(c.firstDifference, c.turn).toBeNull();
        expect(c.length).toBe(c.expectedLength);
      }
    },
  );
});
