import { readFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { exampleUrl, parseExamplesManifest } from "./examples";

const EXAMPLES_DIR = path.resolve(__dirname, "../../public/examples");

describe("bundled examples", () => {
  it("lists a GUI screenshot, a chart and a document, each a readable PNG with starter questions", async () => {
    const examples = parseExamplesManifest(JSON.parse(await readFile(path.join(EXAMPLES_DIR, "examples.json"), "utf8")));
    expect(examples.map((e) => e.file)).toEqual(["settings-dialog.png", "bar-chart.png", "document-snippet.png"]);
    for (const example of examples) {
      const meta = await sharp(path.join(EXAMPLES_DIR, example.file)).metadata();
      expect(meta.format, example.file).toBe("png");
      expect([meta.width, meta.height], example.file).toEqual([640, 420]);
      expect(example.questions.length, example.file).toBeGreaterThanOrEqual(2);
    }
    expect(exampleUrl(examples[1])).toBe("/examples/bar-chart.png");
  });

  it("rejects a manifest entry without questions or with a path in its file name", () => {
    expect(() => parseExamplesManifest([{ file: "a.png", title: "A", questions: [] }])).toThrow(/questions/);
    expect(() => parseExamplesManifest([{ file: "../secret.png", title: "A", questions: ["q"] }])).toThrow(/file/);
  });
});
