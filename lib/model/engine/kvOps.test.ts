import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { providerSessionFactory } from "./executionProvider";
import { kvCapacity, liveKvBytes, releaseKvCache, retainKvCache, type KvCache } from "./kvCache";
import { KvOps } from "./kvOps";

const HEADS = 2;
const HEAD_DIM = 3;
const LAYERS = 2;

/** Layer l, key (0) or value (1), head h, position p, dim d → a distinct number; `tag` tells sequences apart. */
const code = (tag: number, l: number, kind: number, h: number, p: number, d: number) =>
  tag * 1e5 + l * 1e4 + kind * 1e3 + h * 100 + p * 10 + d;

/** An untracked host cache (built from arrays, as a test or L2's host segments do). */
function filled(tag: number, length: number, type: "float32" | "float16" = "float32"): KvCache {
  const tensor = (l: number, kind: number) => {
    const data =
      type === "float32" ? new Float32Array(HEADS * length * HEAD_DIM) : new Uint16Array(HEADS * length * HEAD_DIM);
    for (let h = 0; h < HEADS; h++) {
      for (let p = 0; p < length; p++)
        for (let d = 0; d < HEAD_DIM; d++) data[(h * length + p) * HEAD_DIM + d] = code(tag, l, kind, h, p, d) % 60000;
    }
    return new ort.Tensor(type, data, [1, HEADS, length, HEAD_DIM]);
  };
  return { length, layers: Array.from({ length: LAYERS }, (_, l) => ({ key: tensor(l, 0), value: tensor(l, 1) })) };
}

/** Head h's row of position p in layer l's keys or values. */
function row(kv: KvCache, l: number, kind: "key" | "value", h: number, p: number): number[] {
  const data = kv.layers[l][kind].data as Float32Array | Uint16Array;
  const from = (h * kvCapacity(kv) + p) * HEAD_DIM;
  return Array.from(data.subarray(from, from + HEAD_DIM));
}

const ops = new KvOps(providerSessionFactory("cpu", { intraOpNumThreads: 1 }), LAYERS, "float32");
afterAll(() => ops.release());

describe("KvOps (real ORT CPU sessions)", () => {
  it("gathers ranges of several caches into one, position by position", async () => {
    const a = filled(1, 5);
    const b = filled(2, 4);
    const joined = await ops.gather([
      { kv: a, start: 1, end: 4 },
      { kv: b, start: 0, end: 2 },
    ]);
    expect(joined.length).toBe(5);
    expect(joined.layers[1].value.dims).toEqual([1, HEADS, 5, HEAD_DIM]);
    for (const l of [0, 1]) {
      for (const kind of ["key", "value"] as const) {
        for (let h = 0; h < HEADS; h++) {
          for (let p = 0; p < 3; p++) expect(row(joined, l, kind, h, p)).toEqual(row(a, l, kind, h, p + 1));
          for (let p = 0; p < 2; p++) expect(row(joined, l, kind, h, 3 + p)).toEqual(row(b, l, kind, h, p));
        }
      }
    }
    releaseKvCache(joined);
  });

  it("counts what it returns as live KV until the last reference is released, and disposes it once", async () => {
    const before = liveKvBytes();
    const cut = await ops.gather([{ kv: filled(3, 6), start: 2, end: 6 }]);
    const bytes = LAYERS * 2 * HEADS * 4 * HEAD_DIM * 4;
    expect(liveKvBytes() - before).toBe(bytes);
    retainKvCache(cut);
    releaseKvCache(cut);
    expect(liveKvBytes() - before).toBe(bytes);
    expect(row(cut, 0, "key", 1, 0)).toEqual(row(filled(3, 6), 0, "key", 1, 2));
    releaseKvCache(cut);
    expect(liveKvBytes()).toBe(before);
    expect(cut.layers[0].key.location).toBe("none");
    releaseKvCache(cut);
    expect(liveKvBytes()).toBe(before);
    expect(() => retainKvCache(cut)).toThrow(/released/);
  });

  it("downloads a cache as a host copy of the same values", async () => {
    const source = await ops.gather([{ kv: filled(4, 3), start: 0, end: 3 }]);
    const copy = await ops.download(source);
    expect(copy.layers[0].key.location).toBe("cpu");
    expect(row(copy, 1, "value", 1, 2)).toEqual(row(source, 1, "value", 1, 2));
    releaseKvCache(source);
    releaseKvCache(copy);
  });

  it("keeps half-precision bit patterns exactly", async () => {
    const half = new KvOps(providerSessionFactory("cpu", { intraOpNumThreads: 1 }), LAYERS, "float16");
    const source = filled(5, 4, "float16");
    const cut = await half.gather([{ kv: source, start: 1, end: 3 }]);
    expect(cut.layers[0].key.type).toBe("float16");
    expect(row(cut, 0, "key", 1, 1)).toEqual(row(source, 0, "key", 1, 2));
    releaseKvCache(cut);
    await half.release();
  });

  it("pads a cache with zeros to a capacity, and gathers the exact positions back out of it", async () => {
    const before = liveKvBytes();
    const source = filled(7, 3);
    const padded = await ops.pad(source, 8);
    expect(padded.length).toBe(3);
    expect(padded.layers[1].key.dims).toEqual([1, HEADS, 8, HEAD_DIM]);
    expect(liveKvBytes() - before).toBe(LAYERS * 2 * HEADS * 8 * HEAD_DIM * 4);
    for (let h = 0; h < HEADS; h++) {
      for (let p = 0; p < 3; p++) expect(row(padded, 1, "value", h, p)).toEqual(row(source, 1, "value", h, p));
      for (let p = 3; p < 8; p++) expect(row(padded, 0, "key", h, p)).toEqual([0, 0, 0]);
    }
    const trimmed = await ops.gather([{ kv: padded, start: 0, end: padded.length }]);
    expect(kvCapacity(trimmed)).toBe(3);
    expect(trimmed.layers.map((l) => l.key.data)).toEqual(source.layers.map((l) => l.key.data));
    await expect(ops.pad(padded, 7)).rejects.toThrow(RangeError);
    releaseKvCache(padded);
    releaseKvCache(trimmed);
    expect(liveKvBytes()).toBe(before);
  });

  it("refuses empty or out-of-range ranges before running anything", async () => {
    await expect(ops.gather([{ kv: filled(6, 3), start: 2, end: 2 }])).rejects.toThrow(RangeError);
    await expect(ops.gather([{ kv: filled(6, 3), start: 0, end: 4 }])).rejects.toThrow(RangeError);
    await expect(ops.gather([])).rejects.toThrow(RangeError);
  });
});
