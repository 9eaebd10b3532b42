import { readFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { DEMO_EXAMPLES, demoExampleItem } from "@/lib/demoModel/examples";
import { exampleUrl, parseExamplesManifest } from "./examples";

const EXAMPLES_DIR = path.resolve(__dirname, "../../public/examples");

describe("bundled examples", () => {
  it("lists the demo model's examples (lib/demoModel/examples.ts) as readable PNGs with their starter questions", async () => {
    const examples = parseExamplesManifest(
      JSON.parse(await readFile(path.join(EXAMPLES_DIR, "examples.json"), "utf8")),
    );
    expect(examples.map((e) => e.file)).toEqual(DEMO_EXAMPLES.map((e) => e.file));
    for (const [i, example] of examples.entries()) {
      const item = demoExampleItem(DEMO_EXAMPLES[i]);
      const meta = await sharp(path.join(EXAMPLES_DIR, example.file)).metadata();
      expect(meta.format, example.file).toBe("png");
      expect([meta.width, meta.height], example.file).toEqual([item.width, item.height]);
      expect(example.questions, example.file).toEqual([item.turns[0].question]);
    }
    expect(exampleUrl(examples[1])).toBe("/examples/dialog-disabled.png");
  });

  it("rejects a manifest entry without questions or with a path in its file name", () => {
    expect(() => parseExamplesManifest([{ file: "a.png", title: "A", questions: [] }])).toThrow(/questions/);
    expect(() => parseExamplesManifest([{ file: "../secret.png", title: "A", questions: ["q"] }])).toThrow(/file/);
  });
});
