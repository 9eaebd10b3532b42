import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  decodeFeatureRecord,
  encodeFeatureRecord,
  FEATURE_RECORD_HEADER_BYTES,
  FeatureRecordEncodeError,
  type ExpectedFeatureShape,
  type FeatureDtype,
  type FeatureRecord,
  type FeatureTensors,
  tensorsShapeMismatch,
} from "@/lib/cache/featureRecord";
import { createRng } from "@/lib/model/sampling/prng";

// A small image: grid [1, 4, 6] patches, merged 2×2 → N = 6 tokens; hidden 16; 3 DeepStack layers.
const N = 6;
const H = 16;
const D = 3;
const GRID = [1, 4, 6] as const;
const EXPECTED: ExpectedFeatureShape = { hidden: H, deepstackLayers: D, tokens: N, gridThw: GRID };

function randomValues(seed: number, count: number, scale: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count }, () => (rng.nextFloat() * 2 - 1) * scale);
}

function sampleTensors(withDeepstack = true): FeatureTensors {
  return {
    imageFeatures: { data: randomValues(1, N * H, 3), dims: [N, H] },
    deepstack: withDeepstack ? { data: randomValues(2, D * N * H, 40), dims: [D, N, H] } : null,
    gridThw: GRID,
  };
}

function decodeOk(bytes: Uint8Array, expected = EXPECTED): FeatureRecord {
  const result = decodeFeatureRecord(bytes, expected);
  if (!result.ok) throw new Error(`decode failed: ${result.reason} (${result.detail})`);
  return result.record;
}

function reasonOf(bytes: Uint8Array, expected = EXPECTED): string {
  const result = decodeFeatureRecord(bytes, expected);
  return result.ok ? "ok" : result.reason;
}

/** Rewrites the checksum so a deliberately edited header passes the CRC and reaches the later checks. */
function resealed(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUInt32LE(crc32(copy.subarray(FEATURE_RECORD_HEADER_BYTES), crc32(copy.subarray(0, 36))), 36);
  return copy;
}

describe("feature record", () => {
  const rows = N * (1 + D);

  it.each<[FeatureDtype, number]>([
    ["fp32", 4 * rows * H],
    ["fp16", 2 * rows * H],
    ["int8", 4 * rows + rows * H],
  ])("stores %s in a 40-byte header plus %i payload bytes", (dtype, payloadBytes) => {
    const bytes = encodeFeatureRecord(sampleTensors(), dtype);
    expect(bytes.length).toBe(FEATURE_RECORD_HEADER_BYTES + payloadBytes);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("VLCF");
    expect(bytes.readUInt32LE(32)).toBe(payloadBytes);
  });

  it("round-trips fp32 exactly, DeepStack included", () => {
    const tensors = sampleTensors();
    const record = decodeOk(encodeFeatureRecord(tensors, "fp32"));
    expect(record.storedAs).toBe("fp32");
    expect(record.gridThw).toEqual([1, 4, 6]);
    expect(record.imageFeatures.dims).toEqual([N, H]);
    expect(record.deepstack?.dims).toEqual([D, N, H]);
    expect(record.imageFeatures.data).toEqual(tensors.imageFeatures.data);
    expect(record.deepstack?.data).toEqual(tensors.deepstack?.data);
  });

  it("round-trips a model without DeepStack", () => {
    const tensors = sampleTensors(false);
    const bytes = encodeFeatureRecord(tensors, "fp32");
    expect(bytes.readUInt32LE(16)).toBe(0);
    const record = decodeOk(bytes, { ...EXPECTED, deepstackLayers: 0 });
    expect(record.deepstack).toBeNull();
    expect(record.imageFeatures.data).toEqual(tensors.imageFeatures.data);
  });

  it("round-trips fp16 within half-precision rounding (relative 2^-11)", () => {
    const tensors = sampleTensors();
    const record = decodeOk(encodeFeatureRecord(tensors, "fp16"));
    expect(record.storedAs).toBe("fp16");
    const pairs: [Float32Array, Float32Array][] = [
      [tensors.imageFeatures.data, record.imageFeatures.data],
      [tensors.deepstack!.data, record.deepstack!.data],
    ];
    let worst = 0;
    let changed = 0;
    for (const [original, decoded] of pairs) {
      original.forEach((x, i) => {
        // Normal halves carry 11 significant bits; below 2^-14 the spacing is a fixed 2^-24.
        worst = Math.max(worst, Math.abs(x - decoded[i]) / Math.max(Math.abs(x) * 2 ** -11, 2 ** -25));
        if (x !== decoded[i]) changed += 1;
      });
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(changed).toBeGreaterThan(0); // it really was stored at half precision
  });

  it("round-trips int8 within half a row scale per element", () => {
    const tensors = sampleTensors();
    const record = decodeOk(encodeFeatureRecord(tensors, "int8"));
    expect(record.storedAs).toBe("int8");
    const original = [...tensors.imageFeatures.data, ...tensors.deepstack!.data];
    const decoded = [...record.imageFeatures.data, ...record.deepstack!.data];
    let worstInScales = 0;
    for (let row = 0; row < rows; row++) {
      const slice = original.slice(row * H, (row + 1) * H);
      const magnitudes = slice.map(Math.abs);
      const peakMagnitude = Math.max(...magnitudes);
      const scale = peakMagnitude / 127;
      slice.forEach((x, i) => {
        worstInScales = Math.max(worstInScales, Math.abs(x - decoded[row * H + i]) / scale);
      });
      // The row's largest magnitude is stored as ±127 · scale, so it comes back almost exactly.
      const peak = decoded[row * H + magnitudes.indexOf(peakMagnitude)];
      expect(Math.abs(Math.abs(peak) - peakMagnitude)).toBeLessThan(peakMagnitude * 1e-6);
    }
    expect(worstInScales).toBeLessThanOrEqual(0.5 + 1e-5);
  });

  it("stores an all-zero row in int8 as zeros", () => {
    const tensors = sampleTensors(false);
    const data = tensors.imageFeatures.data.slice();
    data.fill(0, 0, H);
    const record = decodeOk(encodeFeatureRecord({ ...tensors, imageFeatures: { data, dims: [N, H] } }, "int8"), {
      ...EXPECTED,
      deepstackLayers: 0,
    });
    expect([...record.imageFeatures.data.subarray(0, H)]).toEqual(new Array(H).fill(0));
  });

  it("decodes from an unaligned view into a larger buffer", () => {
    const bytes = encodeFeatureRecord(sampleTensors(), "fp32");
    const host = Buffer.alloc(bytes.length + 3);
    bytes.copy(host, 1);
    const record = decodeOk(host.subarray(1, 1 + bytes.length));
    expect(record.imageFeatures.data).toEqual(sampleTensors().imageFeatures.data);
  });

  it.each<FeatureDtype>(["fp32", "fp16", "int8"])("detects every flipped byte of a %s record", (dtype) => {
    const bytes = encodeFeatureRecord(sampleTensors(), dtype);
    const undetected: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const corrupt = Buffer.from(bytes);
        corrupt[i] ^= mask;
        if (decodeFeatureRecord(corrupt, EXPECTED).ok) undetected.push(i);
      }
    }
    expect(undetected).toEqual([]);
  });

  it("names the corruption: payload and checksum flips fail the checksum, header flips their own check", () => {
    const bytes = encodeFeatureRecord(sampleTensors(), "fp16");
    const flip = (offset: number) => {
      const corrupt = Buffer.from(bytes);
      corrupt[offset] ^= 0x10;
      return reasonOf(corrupt);
    };
    expect(flip(0)).toBe("bad-magic");
    expect(flip(4)).toBe("version");
    expect(flip(33)).toBe("truncated"); // payload length grew past the buffer
    expect(flip(12)).toBe("checksum");
    expect(flip(37)).toBe("checksum");
    expect(flip(FEATURE_RECORD_HEADER_BYTES + 5)).toBe("checksum");
  });

  it("reports every truncation as truncated", () => {
    const bytes = encodeFeatureRecord(sampleTensors(), "int8");
    const reasons = new Set<string>();
    for (let length = 0; length < bytes.length; length++) reasons.add(reasonOf(bytes.subarray(0, length)));
    expect([...reasons]).toEqual(["truncated"]);
  });

  it("refuses trailing bytes, a foreign magic and another format version", () => {
    const bytes = encodeFeatureRecord(sampleTensors(), "fp32");
    expect(reasonOf(Buffer.concat([bytes, Buffer.from([0])]))).toBe("trailing-bytes");
    expect(reasonOf(Buffer.from("\x89PNG\r\n\x1a\n", "latin1"))).toBe("bad-magic");
    const future = Buffer.from(bytes);
    future.writeUInt16LE(2, 4);
    expect(reasonOf(resealed(future))).toBe("version");
  });

  it("refuses a checksummed header that makes no sense", () => {
    const bytes = encodeFeatureRecord(sampleTensors(), "fp32");
    const unknownDtype = Buffer.from(bytes);
    unknownDtype[6] = 9;
    expect(reasonOf(resealed(unknownDtype))).toBe("header");
    const wrongDtype = Buffer.from(bytes);
    wrongDtype[6] = 2; // claims fp16, but the payload is sized for fp32
    expect(reasonOf(resealed(wrongDtype))).toBe("header");
    const reserved = Buffer.from(bytes);
    reserved[7] = 1;
    expect(reasonOf(resealed(reserved))).toBe("header");
  });

  it("refuses a record whose dimensions differ from what the reader expects", () => {
    const bytes = encodeFeatureRecord(sampleTensors(), "fp32");
    expect(reasonOf(bytes, { ...EXPECTED, hidden: 32 })).toBe("shape-mismatch");
    expect(reasonOf(bytes, { ...EXPECTED, deepstackLayers: 0 })).toBe("shape-mismatch");
    expect(reasonOf(bytes, { ...EXPECTED, tokens: 7 })).toBe("shape-mismatch");
    expect(reasonOf(bytes, { ...EXPECTED, gridThw: [1, 6, 4] })).toBe("shape-mismatch");
    expect(reasonOf(bytes, { hidden: H, deepstackLayers: D })).toBe("ok");
  });

  it("tells without a record what decoding it would refuse as a shape mismatch, with the same detail", () => {
    const tensors = sampleTensors();
    const bytes = encodeFeatureRecord(tensors, "fp32");
    for (const expected of [
      { ...EXPECTED, hidden: 32 },
      { ...EXPECTED, deepstackLayers: 0 },
      { ...EXPECTED, tokens: 7 },
      { ...EXPECTED, gridThw: [1, 6, 4] as const },
    ]) {
      const decoded = decodeFeatureRecord(bytes, expected);
      expect(decoded.ok ? null : decoded.detail).toBe(tensorsShapeMismatch(tensors, expected));
      expect(tensorsShapeMismatch(tensors, expected)).toMatch(/expected/);
    }
    expect(tensorsShapeMismatch(tensors, EXPECTED)).toBeNull();
    expect(tensorsShapeMismatch(sampleTensors(false), { hidden: H, deepstackLayers: 0 })).toBeNull();
    expect(() => tensorsShapeMismatch({ ...tensors, gridThw: [1, 0, 6] }, EXPECTED)).toThrow(FeatureRecordEncodeError);
  });

  it("refuses to encode what a record cannot hold faithfully", () => {
    const codeOf = (tensors: FeatureTensors, dtype: FeatureDtype) => {
      try {
        encodeFeatureRecord(tensors, dtype);
        return "encoded";
      } catch (error) {
        return error instanceof FeatureRecordEncodeError ? error.code : String(error);
      }
    };
    const good = sampleTensors();
    const withValue = (value: number) => {
      const data = good.imageFeatures.data.slice();
      data[3] = value;
      return { ...good, imageFeatures: { data, dims: [N, H] } };
    };
    expect(codeOf(withValue(NaN), "fp32")).toBe("non-finite");
    expect(codeOf(withValue(Infinity), "int8")).toBe("non-finite");
    expect(codeOf(withValue(70000), "fp16")).toBe("out-of-range");
    expect(codeOf(withValue(70000), "fp32")).toBe("encoded");
    expect(codeOf({ ...good, imageFeatures: { data: good.imageFeatures.data, dims: [N, H + 1] } }, "fp32")).toBe(
      "shape",
    );
    expect(codeOf({ ...good, deepstack: { data: good.deepstack!.data, dims: [D, N + 1, H] } }, "fp32")).toBe("shape");
    expect(codeOf({ ...good, gridThw: [1, 0, 6] }, "fp32")).toBe("shape");
  });
});
