import { describe, expect, it } from "vitest";
import { modelFingerprint, type ModelFingerprintInput } from "@/lib/cache/modelFingerprint";
import { parseModelFingerprint } from "@/lib/ids";

const base: ModelFingerprintInput = {
  sourceFingerprint: "5".repeat(64),
  dtype: "fp32",
  converterVersion: "1.0.0",
  graphForm: { rotary: "fused", float32Compute: null },
  preprocessor: { minPixels: 4096, maxPixels: 40000, patchSize: 16, mergeSize: 2 },
  chatTemplate: "{% for m in messages %}{{ m.content }}{% endfor %}",
};

describe("modelFingerprint", () => {
  it("is a stable SHA-256 that key ids accept, independent of field order in the preprocessing config", () => {
    const fingerprint = modelFingerprint(base);
    expect(parseModelFingerprint(fingerprint)).toBe(fingerprint);
    expect(
      modelFingerprint({ ...base, preprocessor: { mergeSize: 2, patchSize: 16, maxPixels: 40000, minPixels: 4096 } }),
    ).toBe(fingerprint);
  });

  it("changes with the weights, the dtype, the converter, the graphs' form, the preprocessing and the chat template", () => {
    const variants: ModelFingerprintInput[] = [
      { ...base, sourceFingerprint: "6".repeat(64) },
      { ...base, dtype: "fp16" },
      { ...base, converterVersion: "1.0.1" },
      { ...base, graphForm: { rotary: "plain", float32Compute: null } },
      { ...base, graphForm: { rotary: "fused", float32Compute: { norms: true, attention: false, matmuls: true } } },
      { ...base, preprocessor: { ...(base.preprocessor as object), maxPixels: 40001 } },
      { ...base, chatTemplate: `${base.chatTemplate} ` },
    ];
    const all = new Set([base, ...variants].map(modelFingerprint));
    expect(all.size).toBe(variants.length + 1);
  });

  it("refuses a source fingerprint that is not a SHA-256", () => {
    expect(() => modelFingerprint({ ...base, sourceFingerprint: "abc" })).toThrow(RangeError);
  });
});
