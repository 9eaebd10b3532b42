import { describe, expect, it } from "vitest";
import { concatKvSegments, KvSegment, type KvArray, type KvArrays } from "@/lib/cache/kvSegment";
import { PrefixTree } from "@/lib/cache/prefixTree";

/** A [layers × (key, value)] cache of `length` positions whose every element says where it sits. */
function labelled(
  length: number,
  opts: { kvHeads?: number; headDim?: number; layers?: number; half?: boolean } = {},
): KvArrays {
  const kvHeads = opts.kvHeads ?? 2;
  const headDim = opts.headDim ?? 3;
  const layerCount = opts.layers ?? 2;
  const make = (layer: number, which: number): KvArray => {
    const out = opts.half ? new Uint16Array(kvHeads * length * headDim) : new Float32Array(kvHeads * length * headDim);
    for (let h = 0; h < kvHeads; h++) {
      for (let p = 0; p < length; p++) {
        for (let d = 0; d < headDim; d++)
          out[(h * length + p) * headDim + d] = layer * 10000 + which * 5000 + h * 1000 + p * 10 + d;
      }
    }
    return out;
  };
  return {
    kvHeads,
    headDim,
    length,
    layers: Array.from({ length: layerCount }, (_, i) => ({ key: make(i, 0), value: make(i, 1) })),
  };
}

/** Element (layer, which, head, position, dim) of a cache, read through its layout. */
function at(kv: KvArrays, layer: number, which: "key" | "value", h: number, p: number, d: number): number {
  return kv.layers[layer][which][(h * kv.length + p) * kv.headDim + d];
}

describe("KvSegment", () => {
  it("slices positions along the sequence axis of every head, key and value, of every layer", () => {
    const source = labelled(7);
    const segment = KvSegment.slice(source, 2, 5);
    expect(segment.length).toBe(3);
    for (let layer = 0; layer < 2; layer++) {
      for (const which of ["key", "value"] as const) {
        for (let h = 0; h < 2; h++) {
          for (let p = 0; p < 3; p++) {
            for (let d = 0; d < 3; d++)
              expect(at(segment, layer, which, h, p, d)).toBe(at(source, layer, which, h, p + 2, d));
          }
        }
      }
    }
  });

  it("counts bytes exactly, for fp32 and for fp16 bit patterns", () => {
    expect(KvSegment.slice(labelled(7), 0, 7).bytes).toBe(2 * 2 * (2 * 7 * 3) * 4);
    const half = KvSegment.slice(labelled(7, { half: true }), 1, 4);
    expect(half.bytes).toBe(2 * 2 * (2 * 3 * 3) * 2);
    expect(half.layers[0].key).toBeInstanceOf(Uint16Array);
  });

  it("splits into two segments that conserve length and bytes and concatenate back to the original", () => {
    const segment = KvSegment.slice(labelled(9, { kvHeads: 3, headDim: 4, layers: 3 }), 0, 9);
    for (let cut = 1; cut < 9; cut++) {
      const [head, tail] = segment.split(cut);
      expect([head.length, tail.length]).toEqual([cut, 9 - cut]);
      expect(head.bytes + tail.bytes).toBe(segment.bytes);
      const joined = concatKvSegments([head, tail]);
      joined.layers.forEach((layer, i) => {
        expect(Array.from(layer.key)).toEqual(Array.from(segment.layers[i].key));
        expect(Array.from(layer.value)).toEqual(Array.from(segment.layers[i].value));
      });
    }
  });

  it("refuses empty or out-of-range cuts and mixed shapes", () => {
    const source = labelled(4);
    expect(() => KvSegment.slice(source, 2, 2)).toThrow(RangeError);
    expect(() => KvSegment.slice(source, 0, 5)).toThrow(RangeError);
    expect(() => KvSegment.slice(source, 0, 4).split(0)).toThrow(RangeError);
    expect(() => KvSegment.slice(source, 0, 4).split(4)).toThrow(RangeError);
    expect(() =>
      concatKvSegments([KvSegment.slice(source, 0, 2), KvSegment.slice(labelled(4, { headDim: 5 }), 0, 2)]),
    ).toThrow(RangeError);
    expect(() =>
      concatKvSegments([KvSegment.slice(source, 0, 2), KvSegment.slice(labelled(4, { half: true }), 0, 2)]),
    ).toThrow(RangeError);
  });

  it("serves from a prefix tree exactly the KV of the matched positions, across edge splits", () => {
    const tree = new PrefixTree<KvSegment>({ budgetBytes: 1 << 20 });
    const first = labelled(10);
    const firstKey = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    tree.insert("ns", firstKey, (start, end) => KvSegment.slice(first, start, end));
    // A second sequence shares 4 positions, so the stored edge is split at 4.
    const second = labelled(6, {});
    tree.insert("ns", [1, 2, 3, 4, 50, 60], (start, end) => KvSegment.slice(second, start, end));
    const match = tree.matchPrefix("ns", [1, 2, 3, 4, 5, 6, 7, 99]);
    expect(match.length).toBe(7);
    expect(match.values.map((v) => v.length)).toEqual([4, 3]);
    const joined = concatKvSegments(match.values);
    const expected = KvSegment.slice(first, 0, 7);
    joined.layers.forEach((layer, i) => expect(Array.from(layer.key)).toEqual(Array.from(expected.layers[i].key)));
    expect(tree.totalBytes).toBe(KvSegment.slice(first, 0, 10).bytes + KvSegment.slice(second, 4, 6).bytes);
  });
});
