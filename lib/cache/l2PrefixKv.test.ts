import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { l2Namespace } from "@/lib/cache/keys";
import { PrefixKvCache } from "@/lib/cache/l2PrefixKv";
import { parseModelFingerprint, parseTenantId } from "@/lib/ids";
import { providerSessionFactory } from "@/lib/model/engine/executionProvider";
import { liveKvBytes, releaseKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import { KvOps } from "@/lib/model/engine/kvOps";

const KV_HEADS = 2;
const HEAD_DIM = 4;
const LAYERS = 2;
/** Bytes of one position: layers × (key, value) × heads × headDim × 4. */
const POSITION_BYTES = LAYERS * 2 * KV_HEADS * HEAD_DIM * 4;

const fingerprint = parseModelFingerprint("c".repeat(64))!;
const nsA = l2Namespace(parseTenantId("team-a")!, fingerprint);
const nsB = l2Namespace(parseTenantId("team-b")!, fingerprint);

/**
 * KV [1, heads, length, headDim] per layer whose every value encodes (sequence tag, layer, key/value, head, position,
 * dim).
 */
function kvFor(tag: number, length: number): KvCache {
  const tensor = (layer: number, which: number) => {
    const data = new Float32Array(KV_HEADS * length * HEAD_DIM);
    for (let h = 0; h < KV_HEADS; h++) {
      for (let p = 0; p < length; p++) {
        for (let d = 0; d < HEAD_DIM; d++)
          data[(h * length + p) * HEAD_DIM + d] = tag * 1e6 + layer * 1e5 + which * 1e4 + h * 1e3 + p * 10 + d;
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

describe("PrefixKvCache", async () => {
  it("serves the stored KV of the longest matching prefix as decoder-shaped tensors", async () => {
    const cache = new PrefixKvCache();
    const stored = kvFor(1, 6);
    cache.insert(nsA, keyOf(1, 2, 3, 4, 5, 6), stored);
    const hit = (await cache.lookup(nsA, keyOf(1, 2, 3, 4, 9)))!;
    expect(hit.length).toBe(4);
    expect(hit.kv.layers[1].value.dims).toEqual([1, KV_HEADS, 4, HEAD_DIM]);
    for (let p = 0; p < 4; p++) expect(position(hit.kv, 1, 1, p)).toEqual(position(stored, 1, 1, p));
    hit.release();
    expect(await cache.lookup(nsA, keyOf(7, 8))).toBeNull();
  });

  it("copies what it stores: the decoder's tensors may be disposed right after insert", async () => {
    const cache = new PrefixKvCache();
    const stored = kvFor(2, 3);
    const expected = position(stored, 0, 0, 2);
    cache.insert(nsA, keyOf(1, 2, 3), stored);
    (stored.layers[0].key.data as Float32Array).fill(-1);
    expect(position((await cache.lookup(nsA, keyOf(1, 2, 3, 4)))!.kv, 0, 0, 2)).toEqual(expected);
  });

  it("keeps namespaces (tenants, models) apart", async () => {
    const cache = new PrefixKvCache();
    cache.insert(nsA, keyOf(1, 2, 3), kvFor(3, 3));
    expect(await cache.lookup(nsB, keyOf(1, 2, 3, 4))).toBeNull();
    expect(cache.forgetTenant(parseTenantId("team-b")!)).toBe(0);
    expect(cache.forgetTenant(parseTenantId("team-a")!)).toBe(3 * POSITION_BYTES);
    expect(await cache.lookup(nsA, keyOf(1, 2, 3, 4))).toBeNull();
  });

  it("stays within its budget, evicting unlocked prefixes least recently used first, never a locked one", async () => {
    const cache = new PrefixKvCache({ budgetBytes: 10 * POSITION_BYTES });
    cache.insert(nsA, keyOf(1, 2, 3, 4), kvFor(4, 4));
    cache.insert(nsA, keyOf(5, 6, 7, 8), kvFor(5, 4));
    const locked = (await cache.lookup(nsA, keyOf(1, 2, 3, 4, 0)))!;
    expect(cache.lockedBytes).toBe(4 * POSITION_BYTES);
    cache.insert(nsA, keyOf(9, 10, 11, 12), kvFor(6, 4));
    expect(cache.totalBytes).toBeLessThanOrEqual(10 * POSITION_BYTES);
    expect(await cache.lookup(nsA, keyOf(5, 6, 7, 8, 0))).toBeNull();
    locked.release();
    locked.release();
    expect(cache.lockedBytes).toBe(0);
    expect((await cache.lookup(nsA, keyOf(1, 2, 3, 4, 0)))!.length).toBe(4);
  });

  it("evicts prefixes idle for longer than the idle TTL", async () => {
    let now = 0;
    const cache = new PrefixKvCache({ idleTtlMs: 1000, sweepIntervalMs: 0, clock: () => now });
    cache.insert(nsA, keyOf(1, 2), kvFor(7, 2));
    now = 500;
    cache.insert(nsA, keyOf(3, 4), kvFor(8, 2));
    now = 1200;
    expect(await cache.lookup(nsA, keyOf(1, 2, 0))).toBeNull();
    expect((await cache.lookup(nsA, keyOf(3, 4, 0)))!.length).toBe(2);
    expect(cache.totalBytes).toBe(2 * POSITION_BYTES);
  });

  it("refuses a key whose length differs from the KV's", async () => {
    expect(() => new PrefixKvCache().insert(nsA, keyOf(1, 2), kvFor(9, 3))).toThrow(RangeError);
  });
});

/**
 * Device mode, run with the CPU provider: kvOps' real ORT sessions stand in for the GPU ones (the same graphs; on the
 * CPU their outputs are host tensors), so references, compaction, budget and release are exercised for real.
 */
describe("PrefixKvCache keeping decoder-returned KV by reference (device mode)", () => {
  const ops = new KvOps(providerSessionFactory("cpu", { intraOpNumThreads: 1 }), LAYERS, "float32");
  afterAll(() => ops.release());
  /** A cache as a run returns it (tracked, reference-counted), with kvFor's values. */
  const runKv = (tag: number, length: number) => ops.gather([{ kv: kvFor(tag, length), start: 0, end: length }]);

  it("serves one compact stored cache as itself and joins split paths on the device, values unchanged", async () => {
    const baseline = liveKvBytes();
    const cache = new PrefixKvCache({ deviceKv: ops });
    expect(cache.onDevice).toBe(true);
    const first = await runKv(1, 6);
    cache.insert(nsA, keyOf(1, 2, 3, 4, 5, 6), first);
    releaseKvCache(first);
    // The cache keeps its own reference: the request's release leaves the KV alive.
    expect(liveKvBytes() - baseline).toBe(6 * POSITION_BYTES);

    const whole = (await cache.lookup(nsA, keyOf(1, 2, 3, 4, 5, 6, 0)))!;
    expect(whole.kv).toBe(first);
    whole.release();

    // A second sequence sharing the first 3 positions: the tree splits the stored segment.
    const second = await runKv(2, 5);
    cache.insert(nsA, keyOf(1, 2, 3, 8, 9), second);
    releaseKvCache(second);
    expect(cache.totalBytes).toBe(8 * POSITION_BYTES);

    const joined = (await cache.lookup(nsA, keyOf(1, 2, 3, 8, 9, 0)))!;
    expect(joined.length).toBe(5);
    for (let p = 0; p < 3; p++) expect(position(joined.kv, 1, 1, p)).toEqual(position(kvFor(1, 6), 1, 1, p));
    for (let p = 3; p < 5; p++) expect(position(joined.kv, 1, 1, p)).toEqual(position(kvFor(2, 5), 1, 1, p));
    joined.release();
    // Compaction (at the lookup) gave every stored segment a backing of its own: nothing beyond the stored bytes.
    expect(liveKvBytes() - baseline).toBe(cache.totalBytes);

    expect(cache.forgetTenant(parseTenantId("team-a")!)).toBe(8 * POSITION_BYTES);
    expect(liveKvBytes()).toBe(baseline);
  });

  it("stays within its budget and releases what it evicts or refuses, over many requests", async () => {
    const baseline = liveKvBytes();
    const cache = new PrefixKvCache({ deviceKv: ops, budgetBytes: 10 * POSITION_BYTES });
    /** Which request's KV is stored under each short key (the first one inserted while it was missing). */
    const storedTag = new Map<number, number>();
    for (let request = 0; request < 30; request++) {
      const short = request % 3;
      const hit = await cache.lookup(nsA, keyOf(short, 1, 2, 3, 0));
      if (hit) expect(position(hit.kv, 0, 1, 2)).toEqual(position(kvFor(storedTag.get(short)!, 4), 0, 1, 2));
      const kv = await runKv(request, request % 2 === 0 ? 4 : 12);
      if (kv.length === 4) {
        if (!hit) storedTag.set(short, request);
        cache.insert(nsA, keyOf(short, 1, 2, 3), kv);
      } else {
        cache.insert(nsA, keyOf(...Array.from({ length: 12 }, (_, i) => 100 + i)), kv);
      }
      hit?.release();
      releaseKvCache(kv);
      expect(cache.totalBytes).toBeLessThanOrEqual(10 * POSITION_BYTES);
    }
    // A lookup compacts what the last inserts left shared; its own hit is released at once.
    (await cache.lookup(nsA, keyOf(0, 1, 2, 3, 0)))?.release();
    expect(liveKvBytes() - baseline).toBe(cache.totalBytes);
    cache.forgetTenant(parseTenantId("team-a")!);
    expect(liveKvBytes()).toBe(baseline);
  });

  it("answers a miss, not an error, when the stored KV cannot be joined", async () => {
    const baseline = liveKvBytes();
    const wrongOps = new KvOps(providerSessionFactory("cpu", { intraOpNumThreads: 1 }), LAYERS + 1, "float32");
    const cache = new PrefixKvCache({ deviceKv: wrongOps });
    const a = await runKv(1, 3);
    const b = await runKv(2, 3);
    cache.insert(nsA, keyOf(1, 2, 3), a);
    cache.insert(nsA, keyOf(1, 2, 4), b);
    releaseKvCache(a);
    releaseKvCache(b);
    expect(await cache.lookup(nsA, keyOf(1, 2, 4, 0))).toBeNull();
    expect(cache.lockedBytes).toBe(0);
    cache.forgetTenant(parseTenantId("team-a")!);
    expect(liveKvBytes()).toBe(baseline);
    await wrongOps.release();
  });
});
