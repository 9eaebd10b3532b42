import { describe, expect, it } from "vitest";
import { normalizeText } from "@/lib/cache/textNormalize";

const keepCase = { caseFold: false };
const fold = { caseFold: true };

describe("normalizeText", () => {
  it("applies NFKC: compatibility forms become their plain equivalents", () => {
    expect(normalizeText("ＡＢＣ１２３", keepCase)).toBe("ABC123"); // full-width
    expect(normalizeText("ﬁne x²", keepCase)).toBe("fine x2"); // ligature, superscript
    expect(normalizeText("e\u0301", keepCase)).toBe("\u00e9"); // composed
  });

  it("collapses every run of Unicode whitespace to one space and trims", () => {
    expect(normalizeText("  What\tis \n\n this?\u00a0\u2028 ", keepCase)).toBe("What is this?");
    expect(normalizeText("\u3000\u2003", keepCase)).toBe("");
  });

  it("keeps case unless folding is asked for", () => {
    expect(normalizeText("Hello World", keepCase)).toBe("Hello World");
    expect(normalizeText("Hello World", fold)).toBe("hello world");
  });

  it("folds every case variant of a text to one string", () => {
    const variants = ["STRASSE", "Straße", "STRAẞE", "strasse"];
    expect(new Set(variants.map((v) => normalizeText(v, fold)))).toEqual(new Set(["strasse"]));
    const greek = ["ΣΙΣΥΦΟΣ", "σισυφος", "σισυφοσ", "Σισυφος"];
    expect(new Set(greek.map((v) => normalizeText(v, fold))).size).toBe(1);
  });

  it("is idempotent", () => {
    const samples = ["  ＨＥＬＬＯ\u00a0 ẞ ς  ", "İstanbul ﬃ", "a\r\nb", ""];
    for (const options of [keepCase, fold]) {
      for (const sample of samples) {
        const once = normalizeText(sample, options);
        expect(normalizeText(once, options)).toBe(once);
      }
    }
  });
});
