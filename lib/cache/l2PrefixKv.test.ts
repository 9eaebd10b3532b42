import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { l2Namespace } from "@/lib/cache/keys";
import { PrefixKvCache } from "@/lib/cache/l2PrefixKv";
import { parseModelFingerprint, parseTenantId } from "@/lib/ids";
import type { KvCache } from "@/lib/model/engine/kvCache";

const KV_HEADS = 2;
const HEAD_DIM = 4;
const LAYERS = 2;
/** Bytes of one position: layers × (key, value) × heads × headDim × 4. */
const POSITION_BYTES = LAYERS * 2 * KV_HEADS * HEAD_DIM * 4;

const fingerprint = parseModelFingerprint("c".repeat(64))!;
const nsA = l2Namespace(parseTenantId("team-a")!, fingerprint);
const nsB = l2Namespace(parseTenantId("team-b")!, fingerprint);

/** KV [1, heads, length, headDim] per layer whose every value encodes (sequence tag, layer, key/value, head, position, dim). */
function kvFor(tag: number, length: number): KvCache {
  const tensor = (layer: number, which: number) => {
    const data = new Float32Array(KV_HEADS * length * HEAD_DIM);
    for (let h = 0; h < KV_HEADS; h++) {
      for (let p = 0; p < length; p++) {
        for (let d = 0; d < HEAD_DIM; d++) data[(h * length + p) * HEAD_DIM + d] = tag * 1e6 + layer * 1e5 + which * 1e4 + h * 1e3 + p * 10 + d;
      }
    }
    return new ort.Tensor("float32", data, [1, KV_HEADS, length, HEAD_DIM]);
  };
  return { length, layers: Array.from({ length: LAYERS }, (_, i) => ({ key: tensor(i, 0), value: tensor(i, 1) })) };
}

function position(kv: KvCache, layer: number, h: number, p: number): number[] {
  const data = kv.layers[layer].key.data as Float32Array;
  const start = (h * kv.length + p) * HEAD_DIM;
  return Array.from(data.subarray(start, start + HEAD_DIM));
}

const keyOf = (...tokens: (number | string)[]) => tokens;

describe("PrefixKvCache", () => {
  it("serves the stored KV of the longest matching prefix as decoder-shaped tensors", () => {
    const cache = new PrefixKvCache();
    const stored = kvFor(1, 6);
    cache.insert(nsA, keyOf(1, 2, 3, 4, 5, 6), stored);
    const hit = cache.lookup(nsA, keyOf(1, 2, 3, 4, 9))!;
    expect(hit.length).toBe(4);
    expect(hit.kv.layers[1].value.dims).toEqual([1, KV_HEADS, 4, HEAD_DIM]);
    for (let p = 0; p < 4; p++) expect(position(hit.kv, 1, 1, p)).toEqual(position(stored, 1, 1, p));
    hit.release();
    expect(cache.lookup(nsA, keyOf(7, 8))).toBeNull();
  });

  it("copies what it stores: the decoder's tensors may be disposed right after insert", () => {
    const cache = new PrefixKvCache();
    const stored = kvFor(2, 3);
    const expected = position(stored, 0, 0, 2);
    cache.insert(nsA, keyOf(1, 2, 3), stored);
    (stored.layers[0].key.data as Float32Array).fill(-1);
    expect(position(cache.lookup(nsA, keyOf(1, 2, 3, 4))!.kv, 0, 0, 2)).toEqual(expected);
  });

  it("keeps namespaces (tenants, models) apart", () => {
    const cache = new PrefixKvCache();
    cache.insert(nsA, keyOf(1, 2, 3), kvFor(3, 3));
    expect(cache.lookup(nsB, keyOf(1, 2, 3, 4))).toBeNull();
    expect(cache.forgetTenant(parseTenantId("team-b")!)).toBe(0);
    expect(cache.forgetTenant(parseTenantId("team-a")!)).toBe(3 * POSITION_BYTES);
    expect(cache.lookup(nsA, keyOf(1, 2, 3, 4))).toBeNull();
  });

  it("stays within its budget, evicting unlocked prefixes least recently used first, never a locked one", () => {
    const cache = new PrefixKvCache({ budgetBytes: 10 * POSITION_BYTES });
    cache.insert(nsA, keyOf(1, 2, 3, 4), kvFor(4, 4));
    cache.insert(nsA, keyOf(5, 6, 7, 8), kvFor(5, 4));
    const locked = cache.lookup(nsA, keyOf(1, 2, 3, 4, 0))!;
    expect(cache.lockedBytes).toBe(4 * POSITION_BYTES);
    cache.insert(nsA, keyOf(9, 10, 11, 12), kvFor(6, 4));
    expect(cache.totalBytes).toBeLessThanOrEqual(10 * POSITION_BYTES);
    expect(cache.lookup(nsA, keyOf(5, 6, 7, 8, 0))).toBeNull();
    locked.release();
    locked.release();
    expect(cache.lockedBytes).toBe(0);
    expect(cache.lookup(nsA, keyOf(1, 2, 3, 4, 0))!.length).toBe(4);
  });

  it("evicts prefixes idle for longer than the idle TTL", () => {
    let now = 0;
    const cache = new PrefixKvCache({ idleTtlMs: 1000, sweepIntervalMs: 0, clock: () => now });
    cache.insert(nsA, keyOf(1, 2), kvFor(7, 2));
    now = 500;
    cache.insert(nsA, keyOf(3, 4), kvFor(8, 2));
    now = 1200;
    expect(cache.lookup(nsA, keyOf(1, 2, 0))).toBeNull();
    expect(cache.lookup(nsA, keyOf(3, 4, 0))!.length).toBe(2);
    expect(cache.totalBytes).toBe(2 * POSITION_BYTES);
  });

  it("refuses a key whose length differs from the KV's", () => {
    expect(() => new PrefixKvCache().insert(nsA, keyOf(1, 2), kvFor(9, 3))).toThrow(RangeError);
  });
});
