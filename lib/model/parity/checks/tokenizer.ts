/** Tokenizer parity: vlcache's tokenizer on the checkpoint's tokenizer files must give exactly the ids of every
 *  `{text, ids}` entry of the fixture's tokenizer_ref.json (encoded by the reference without special tokens added). */

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { TextTokenizer } from "@/lib/text/tokenizer";
import type { ParityFixture } from "../fixture";
import { notApplicable, type ParityCheck } from "../types";

const THRESHOLD = "all identical";

export interface TokenizerComparison {
  total: number;
  mismatches: { text: string; expected: number[]; actual: number[] }[];
}

/** null when the fixture has no tokenizer_ref.json. */
export async function compareTokenizer(fixture: ParityFixture): Promise<TokenizerComparison | null> {
  const file = path.join(fixture.dir, "tokenizer_ref.json");
  if (!existsSync(file)) return null;
  const entries = JSON.parse(await readFile(file, "utf8")) as { text: string; ids: number[] }[];
  const tokenizer = await TextTokenizer.load(fixture.modelDir);
  const mismatches: TokenizerComparison["mismatches"] = [];
  for (const { text, ids } of entries) {
    const actual = tokenizer.encode(text);
    if (actual.join() !== ids.join()) mismatches.push({ text, expected: ids, actual });
  }
  return { total: entries.length, mismatches };
}

export const tokenizerCheck: ParityCheck = {
  name: "tokenizer",
  async run(ctx) {
    const result = await compareTokenizer(ctx.fixture);
    if (result === null)
      return [notApplicable("tokenizer", "identical ids", THRESHOLD, "fixture has no tokenizer_ref.json")];
    const first = result.mismatches[0];
    return [
      {
        check: "tokenizer",
        metric: "identical ids",
        value: `${result.total - result.mismatches.length}/${result.total}`,
        threshold: THRESHOLD,
        pass: result.total > 0 && result.mismatches.length === 0,
        note:
          first &&
          `tokenizer: ${JSON.stringify(first.text)} → [${first.actual.join(", ")}], reference [${first.expected.join(", ")}]`,
      },
    ];
  },
};
