import { describe, expect, it } from "vitest";
import { demoBundleName } from "./bundle";

describe("demoBundleName", () => {
  const weights = Buffer.from("weights");
  const config = Buffer.from('{"model_type":"qwen3_vl"}');
  const image = { minPixels: 147456, maxPixels: 262144 };

  it("is the same for the same weights, config and image bounds: an unchanged bundle is reused", () => {
    expect(demoBundleName(weights, config, image)).toBe(demoBundleName(Buffer.from(weights), config, { ...image }));
    expect(demoBundleName(weights, config, image)).toMatch(/^vlcache-demo-[0-9a-f]{12}$/);
  });

  it("changes with the weights, the config or either image bound", () => {
    const names = [
      demoBundleName(weights, config, image),
      demoBundleName(Buffer.from("weights2"), config, image),
      demoBundleName(weights, Buffer.from('{"model_type":"qwen3_vl" }'), image),
      demoBundleName(weights, config, { ...image, minPixels: 4096 }),
      demoBundleName(weights, config, { ...image, maxPixels: 102400 }),
    ];
    expect(new Set(names).size).toBe(names.length);
  });

  it("keeps the parts apart: bytes moved from the weights to the config give another name", () => {
    expect(demoBundleName(Buffer.from("ab"), Buffer.from("c"), image)).not.toBe(
      demoBundleName(Buffer.from("a"), Buffer.from("bc"), image),
    );
  });
});
