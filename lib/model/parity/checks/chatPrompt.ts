/**
 * Prompt parity: each reference turn that records its conversation (`messages`) is rendered with the checkpoint's chat
 * template, tokenized and image-expanded with the fixture's grids; the ids must equal the turn's `input_ids` exactly.
 */

import { loadPreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";
import { loadChatTemplate, type ChatMessage, type ChatTemplate } from "@/lib/text/chatTemplate";
import { countImageParts, PromptBuilder } from "@/lib/text/prompt";
import { TextTokenizer } from "@/lib/text/tokenizer";
import { TURN_NAMES, type ParityFixture, type TurnName } from "../fixture";
import { notApplicable, type CheckRow, type ParityCheck } from "../types";

const THRESHOLD = "identical";

export interface PromptComparison {
  turn: TurnName;
  length: number;
  expectedLength: number;
  /** First differing position, or null when identical. */
  firstDifference: number | null;
}

/** One comparison per turn that has `messages`. `template` defaults to the checkpoint's own. */
export async function comparePrompts(fixture: ParityFixture, template?: ChatTemplate): Promise<PromptComparison[]> {
  const tokenizer = await TextTokenizer.load(fixture.modelDir);
  const { mergeSize } = await loadPreprocessorConfig(fixture.modelDir);
  const builder = new PromptBuilder(
    tokenizer,
    template ?? (await loadChatTemplate(fixture.modelDir, tokenizer.config)),
    mergeSize,
  );
  const comparisons: PromptComparison[] = [];
  for (const turn of TURN_NAMES) {
    const reference = fixture.reference[turn];
    const messages = (reference as { messages?: ChatMessage[] } | undefined)?.messages;
    if (reference === undefined || messages === undefined) continue;
    const { inputIds } = builder.build(messages, fixture.grids.slice(0, countImageParts(messages)));
    const expected = reference.input_ids;
    let firstDifference: number | null = null;
    for (let i = 0; i < Math.max(inputIds.length, expected.length); i++) {
      if (inputIds[i] !== expected[i]) {
        firstDifference = i;
        break;
      }
    }
    comparisons.push({ turn, length: inputIds.length, expectedLength: expected.length, firstDifference });
  }
  return comparisons;
}

function row(c: PromptComparison): CheckRow {
  return {
    check: `prompt ${c.turn}`,
    metric: "input_ids from messages",
    value: c.firstDifference === null ? `${c.length} ids identical` : `differs at ${c.firstDifference}`,
    threshold: THRESHOLD,
    pass: c.firstDifference === null,
    note:
      c.firstDifference === null
        ? undefined
        : `prompt ${c.turn}: ${c.length} ids vs reference ${c.expectedLength}, first difference at ${c.firstDifference}`,
  };
}

export const chatPromptCheck: ParityCheck = {
  name: "chat prompt",
  async run(ctx) {
    const comparisons = await comparePrompts(ctx.fixture);
    if (comparisons.length === 0)
      return [notApplicable("prompt", "input_ids from messages", THRESHOLD, "no reference turn records its messages")];
    return comparisons.map(row);
  },
};
