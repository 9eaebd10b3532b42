import { describe, expect, it } from "vitest";
import { kvBlockHashes } from "@/lib/cache/kvBlockChain";
import { decodeKvBlock, encodeKvBlock, type KvBlockShape } from "@/lib/cache/kvBlockCodec";
import type { KvArrays } from "@/lib/cache/kvSegment";

const [hash, otherHash] = kvBlockHashes([1, 2, 3, 4, 5, 6, 7, 8], 4);
const shape: KvBlockShape = { layers: 2, kvHeads: 2, headDim: 3, dtype: "float32" };

/** A block of `tokens` positions whose every value is distinct. */
function block(tokens: number, dtype: KvBlockShape["dtype"] = "float32"): KvArrays {
  const size = shape.kvHeads * tokens * shape.headDim;
  const array = (seed: number) =>
    dtype === "float32"
      ? Float32Array.from({ length: size }, (_, i) => seed * 1000 + i + 0.25)
      : Uint16Array.from({ length: size }, (_, i) => (seed * 1000 + i) & 0xffff);
  return {
    kvHeads: shape.kvHeads,
    headDim: shape.headDim,
    length: tokens,
    layers: Array.from({ length: shape.layers }, (_, l) => ({ key: array(2 * l), value: array(2 * l + 1) })),
  };
}

const expectation = { hash, shape, tokens: 4 };

describe("kvBlockCodec", () => {
  it("round-trips fp32 and fp16 blocks element for element", () => {
    for (const dtype of ["float32", "float16"] as const) {
      const kv = block(4, dtype);
      const bytes = encodeKvBlock(hash, kv);
      // 96-byte header, then 2 layers × (key + value) × [2 heads, 4 tokens, 3 dims] elements of 4 or 2 bytes.
      expect(bytes.length).toBe(96 + 2 * 2 * 2 * 4 * 3 * (dtype === "float32" ? 4 : 2));
      const decoded = decodeKvBlock(bytes, { ...expectation, shape: { ...shape, dtype } });
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) continue;
      expect(decoded.kv.length).toBe(4);
      decoded.kv.layers.forEach((layer, l) => {
        expect(Array.from(layer.key)).toEqual(Array.from(kv.layers[l].key));
        expect(Array.from(layer.value)).toEqual(Array.from(kv.layers[l].value));
        expect(layer.key).toBeInstanceOf(dtype === "float32" ? Float32Array : Uint16Array);
      });
    }
  });

  it("decodes from a buffer at an odd offset (Redis replies are not aligned)", () => {
    const bytes = encodeKvBlock(hash, block(4));
    const shifted = Buffer.concat([Buffer.from([0]), bytes]).subarray(1);
    const decoded = decodeKvBlock(shifted, expectation);
    expect(decoded.ok && Array.from(decoded.kv.layers[1].value)).toEqual(Array.from(block(4).layers[1].value));
  });

  it("rejects a flipped payload byte, a partial block, a block under another hash and a foreign shape", () => {
    const bytes = encodeKvBlock(hash, block(4));
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5] ^= 0x40;
    expect(decodeKvBlock(flipped, expectation)).toEqual({ ok: false, reason: "checksum" });
    expect(decodeKvBlock(bytes.subarray(0, bytes.length - 8), expectation)).toEqual({ ok: false, reason: "truncated" });
    expect(decodeKvBlock(bytes.subarray(0, 50), expectation)).toEqual({ ok: false, reason: "truncated" });
    expect(decodeKvBlock(Buffer.concat([bytes, Buffer.alloc(4)]), expectation)).toEqual({
      ok: false,
      reason: "truncated",
    });
    expect(decodeKvBlock(bytes, { ...expectation, hash: otherHash })).toEqual({ ok: false, reason: "hash" });
    expect(decodeKvBlock(bytes, { ...expectation, tokens: 8 })).toEqual({ ok: false, reason: "shape" });
    expect(decodeKvBlock(bytes, { ...expectation, shape: { ...shape, dtype: "float16" } })).toEqual({
      ok: false,
      reason: "shape",
    });
    expect(decodeKvBlock(bytes, { ...expectation, shape: { ...shape, layers: 3 } })).toEqual({
      ok: false,
      reason: "shape",
    });
    expect(decodeKvBlock(Buffer.from("not a block at all, just some text long enough".repeat(3)), expectation)).toEqual(
      { ok: false, reason: "format" },
    );
  });
});
