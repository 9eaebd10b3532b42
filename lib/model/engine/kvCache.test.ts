import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { emptyKvCache, truncateKvCache, type KvCache } from "./kvCache";

const text = {
  hiddenSize: 8,
  intermediateSize: 16,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 3,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  mropeSection: [1, 0, 0],
  mropeInterleaved: true,
  vocabSize: 10,
  maxPositionEmbeddings: 64,
  hiddenAct: "silu",
};

/** Layer l, key (0) or value (1), head h, position p, dim d → a distinct number. */
const code = (l: number, kind: number, h: number, p: number, d: number) =>
  l * 10000 + kind * 1000 + h * 100 + p * 10 + d;

function filled(length: number): KvCache {
  const tensor = (l: number, kind: number) => {
    const data = new Float32Array(2 * length * 3);
    for (let h = 0; h < 2; h++)
      for (let p = 0; p < length; p++)
        for (let d = 0; d < 3; d++) data[(h * length + p) * 3 + d] = code(l, kind, h, p, d);
    return new ort.Tensor("float32", data, [1, 2, length, 3]);
  };
  return { length, layers: [0, 1].map((l) => ({ key: tensor(l, 0), value: tensor(l, 1) })) };
}

describe("KV cache", () => {
  it("starts empty with the decoder's past shape", () => {
    const kv = emptyKvCache(text, "float16");
    expect(kv.length).toBe(0);
    expect(kv.layers).toHaveLength(2);
    expect(kv.layers[1].value.dims).toEqual([1, 2, 0, 3]);
    expect(kv.layers[1].value.type).toBe("float16");
  });

  it("truncates every head of every layer to the first positions, as a copy", () => {
    const kv = filled(5);
    const head = truncateKvCache(kv, 2);
    expect(head.length).toBe(2);
    const value1 = head.layers[1].value;
    expect(value1.dims).toEqual([1, 2, 2, 3]);
    expect(Array.from(value1.data as Float32Array)).toEqual(
      [0, 1].flatMap((h) => [0, 1].flatMap((p) => [0, 1, 2].map((d) => code(1, 1, h, p, d)))),
    );
    (kv.layers[1].value.data as Float32Array)[0] = -1;
    expect((value1.data as Float32Array)[0]).toBe(code(1, 1, 0, 0, 0));
    expect(truncateKvCache(kv, 0).layers[0].key.dims).toEqual([1, 2, 0, 3]);
    expect(() => truncateKvCache(kv, 6)).toThrow(RangeError);
  });
});
