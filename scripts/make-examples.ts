/**
 * Renders the chat page's Examples row (public/examples/*.png) and its starter questions (public/examples/
 * examples.json) from lib/demoModel/examples.ts: pictures the demo model was built for, drawn as SVG and rasterised
 * by sharp, so they are reproducible and small; the committed PNGs came from this script.
 *
 *   npx tsx scripts/make-examples.ts [--out public/examples]
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Example } from "@/lib/client/examples";
import { DEMO_EXAMPLES, demoExampleItem } from "@/lib/demoModel/examples";
import { renderTestImage } from "@/lib/demoModel/testImages";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: "string", default: "public/examples" } }, strict: true });
  const outDir = path.resolve(values.out!);
  await mkdir(outDir, { recursive: true });
  const wanted = new Set(DEMO_EXAMPLES.map((e) => e.file));
  for (const stale of (await readdir(outDir)).filter((f) => f.endsWith(".png") && !wanted.has(f)))
    await rm(path.join(outDir, stale));
  const manifest: Example[] = [];
  for (const [i, example] of DEMO_EXAMPLES.entries()) {
    const item = demoExampleItem(example);
    const png = await renderTestImage(item);
    await writeFile(path.join(outDir, example.file), png);
    // A follow-up's second question refers to the first answer, so only the first one starts a conversation.
    manifest.push({ file: example.file, title: example.title, questions: [item.turns[0].question] });
    console.log(
      `[${i + 1}/${DEMO_EXAMPLES.length}] ${example.file}: ${item.width}×${item.height}, ${png.length} bytes`,
    );
  }
  await writeFile(path.join(outDir, "examples.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`wrote ${path.join(outDir, "examples.json")}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
