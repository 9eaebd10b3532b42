/** Helpers shared by the component benchmarks (bench-decoder, bench-vision): output, the small checkpoint, medians. */
import { existsSync } from "node:fs";
import path from "node:path";
import { writeRandomCheckpoint } from "@/lib/model/checkpoint/randomCheckpoint";
import { getPreset } from "@/lib/model/convert/presets";

export function line(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Writes the `small` preset's seed-0 random checkpoint to `dir` unless it is already there. */
export async function ensureSmallCheckpoint(dir: string): Promise<void> {
  if (existsSync(path.join(dir, "model.safetensors"))) return;
  line(`writing the small preset's random checkpoint (seed 0) to ${dir}`);
  const preset = getPreset("small");
  await writeRandomCheckpoint(dir, { seed: 0, configJson: preset.configJson, imageSize: preset.imageSize });
}

/** Upper median (the middle element for odd counts). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}
