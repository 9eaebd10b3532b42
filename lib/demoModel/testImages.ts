import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import type { TestItem } from "./testSet";

/**
 * Rasterises a test item's SVG with sharp (librsvg; fonts through fontconfig) and encodes it as the item says. An
 * EXIF-rotated item stores the picture turned the other way, so that a viewer — and vlcache's canonicalisation — that
 * honours the tag sees it upright.
 */
export async function renderTestImage(item: TestItem): Promise<Buffer> {
  const png = await sharp(Buffer.from(item.svg)).png().toBuffer();
  const enc = item.encoding;
  if (enc.format === "png") return png;
  // Orientation 6 displays the stored pixels turned 90° clockwise, 8 turned 90° anticlockwise.
  const stored =
    enc.exifOrientation === undefined ? sharp(png) : sharp(png).rotate(enc.exifOrientation === 6 ? 270 : 90);
  const jpeg = stored.jpeg({ quality: enc.quality });
  return (
    enc.exifOrientation === undefined ? jpeg : jpeg.withMetadata({ orientation: enc.exifOrientation })
  ).toBuffer();
}

export const fileNameOf = (item: TestItem): string => `${item.id}.${item.encoding.format === "png" ? "png" : "jpg"}`;

/** The test set as files: one image per item and manifest.json (id, family, image file, turns), which the PyTorch side
 * of the comparison (scripts/demo-model/train.py --test-dir) reads. */
export async function writeTestSet(dir: string, items: readonly TestItem[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const item of items) await writeFile(path.join(dir, fileNameOf(item)), await renderTestImage(item));
  const manifest = {
    items: items.map((it) => ({ id: it.id, family: it.family, image: fileNameOf(it), turns: it.turns })),
  };
  await writeFile(path.join(dir, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
}
