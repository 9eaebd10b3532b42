import { describe, expect, it } from "vitest";
import {
  decodeResponseRecord,
  encodeResponseRecord,
  ResponseRecordError,
  type ResponseRecord,
} from "@/lib/cache/responseRecord";

const record: ResponseRecord = {
  version: 1,
  tokens: [785, 2168, 374, 264, 4251, 13],
  text: "The image shows a cat.",
  finishReason: "stop",
  usage: { promptTokens: 312, completionTokens: 6 },
  createdAt: 1_763_700_000_000,
};

function reasonOf(text: string): string {
  const result = decodeResponseRecord(text);
  return result.ok ? "ok" : result.reason;
}

describe("response record", () => {
  it("round-trips through JSON text", () => {
    const decoded = decodeResponseRecord(encodeResponseRecord(record));
    expect(decoded).toEqual({ ok: true, record });
  });

  it("refuses to encode an inconsistent record", () => {
    expect(() => encodeResponseRecord({ ...record, usage: { promptTokens: 312, completionTokens: 5 } })).toThrow(
      ResponseRecordError,
    );
    expect(() => encodeResponseRecord({ ...record, tokens: [1, -2] })).toThrow(/tokens/);
  });

  it("names why a stored value is unusable", () => {
    const stored = JSON.parse(encodeResponseRecord(record));
    expect(reasonOf("{not json")).toBe("json");
    expect(reasonOf(encodeResponseRecord(record).slice(0, -3))).toBe("json");
    expect(reasonOf(JSON.stringify({ ...stored, version: 2 }))).toBe("version");
    expect(reasonOf("null")).toBe("version");
    expect(reasonOf(JSON.stringify({ ...stored, tokens: [1.5] }))).toBe("schema");
    expect(reasonOf(JSON.stringify({ ...stored, finishReason: "eos" }))).toBe("schema");
    expect(reasonOf(JSON.stringify({ ...stored, extra: true }))).toBe("schema");
    expect(reasonOf(JSON.stringify({ ...stored, usage: { promptTokens: 1, completionTokens: 9 } }))).toBe("schema");
    const { text: _text, ...withoutText } = stored;
    expect(reasonOf(JSON.stringify(withoutText))).toBe("schema");
  });
});
