import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { kvBlockHashes } from "@/lib/cache/kvBlockChain";
import { l2BlockKey, l2Namespace } from "@/lib/cache/keys";
import { PrefixKvCache } from "@/lib/cache/l2PrefixKv";
import { PrefixKvStoreTier } from "@/lib/cache/l2StoreTier";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";
import { parseModelFingerprint, parseTenantId } from "@/lib/ids";
import type { KvCache } from "@/lib/model/engine/kvCache";

const KV_HEADS = 2;
const HEAD_DIM = 3;
const LAYERS = 2;
const BLOCK = 4;
const shape = { layers: LAYERS, kvHeads: KV_HEADS, headDim: HEAD_DIM, dtype: "float32" } as const;
const ns = l2Namespace(parseTenantId("team-a")!, parseModelFingerprint("c".repeat(64))!);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** KV [1, heads, length, headDim] per layer; the value at (layer, k/v, head, position, dim) encodes all five. */
function kvFor(length: number): KvCache {
  const tensor = (layer: number, which: number) => {
    const data = new Float32Array(KV_HEADS * length * HEAD_DIM);
    for (let h = 0; h < KV_HEADS; h++)
      for (let p = 0; p < length; p++)
        for (let d = 0; d < HEAD_DIM; d++)
          data[(h * length + p) * HEAD_DIM + d] = layer * 1e5 + which * 1e4 + h * 1e3 + p * 10 + d;
    return new ort.Tensor("float32", data, [1, KV_HEADS, length, HEAD_DIM]);
  };
  return { length, layers: Array.from({ length: LAYERS }, (_, i) => ({ key: tensor(i, 0), value: tensor(i, 1) })) };
}

/** Every value of `kv` equals kvFor's value for the same coordinates (so positions 0…length−1 are the right KV). */
function expectKvOfPositions(kv: KvCache, length: number): void {
  expect(kv.length).toBe(length);
  const reference = kvFor(length);
  kv.layers.forEach((layer, l) => {
    expect(layer.key.dims).toEqual([1, KV_HEADS, length, HEAD_DIM]);
    expect(Array.from(layer.key.data as Float32Array)).toEqual(
      Array.from(reference.layers[l].key.data as Float32Array),
    );
    expect(Array.from(layer.value.data as Float32Array)).toEqual(
      Array.from(reference.layers[l].value.data as Float32Array),
    );
  });
}

function setUp(options: { maxQueuedWrites?: number; store?: MemoryBlobStore } = {}) {
  const store = options.store ?? new MemoryBlobStore({ maxBytes: 1 << 24 });
  const tier = new PrefixKvStoreTier({
    store,
    shape,
    blockTokens: BLOCK,
    ttlSeconds: 60,
    maxQueuedWrites: options.maxQueuedWrites,
    readWindowBlocks: 2,
  });
  return { store, tier };
}

describe("PrefixKvStoreTier", () => {
  it("writes a turn's whole blocks in the background and reads them back as the same KV", async () => {
    const { store, tier } = setUp();
    tier.offer(ns, range(0, 14), kvFor(14));
    expect(tier.stats.blocksWritten).toBe(0);
    await tier.drained();
    expect(tier.stats.blocksWritten).toBe(3);
    const fetched = await tier.fetch(ns, range(0, 14), 0);
    expect(fetched.blocks).toHaveLength(3);
    expect(tier.stats.bytesRead).toBe(tier.stats.bytesWritten);
    // A later turn sharing the first blocks renews them instead of sending them again.
    tier.offer(ns, [...range(0, 12), 99, 98, 97, 96], kvFor(16));
    await tier.drained();
    expect(tier.stats.blocksWritten).toBe(4);
    expect(await store.get(l2BlockKey(ns, kvBlockHashes(range(0, 14), BLOCK)[2]))).not.toBeNull();
  });

  it("stops at the first missing block, and at a corrupt one, which it deletes and counts", async () => {
    const { store, tier } = setUp();
    tier.offer(ns, range(0, 20), kvFor(20));
    await tier.drained();
    const hashes = kvBlockHashes(range(0, 20), BLOCK);
    const corruptKey = l2BlockKey(ns, hashes[3]);
    const corrupt = Buffer.from((await store.get(corruptKey))!);
    corrupt[corrupt.length - 1] ^= 1;
    await store.set(corruptKey, corrupt, 60);
    expect((await tier.fetch(ns, range(0, 20), 0)).blocks).toHaveLength(3);
    expect(tier.stats.blocksRejected).toBe(1);
    expect(await store.get(corruptKey)).toBeNull();
    await store.del(l2BlockKey(ns, hashes[1]));
    expect((await tier.fetch(ns, range(0, 20), 0)).blocks).toHaveLength(1);
    expect((await tier.fetch(ns, range(0, 20), 2)).blocks).toHaveLength(1);
  });

  it("keeps at most maxQueuedWrites turns waiting, dropping the oldest", async () => {
    const { tier } = setUp({ maxQueuedWrites: 1 });
    tier.offer(ns, [1, 1, 1, 1], kvFor(4));
    tier.offer(ns, [2, 2, 2, 2], kvFor(4));
    tier.offer(ns, [3, 3, 3, 3], kvFor(4));
    await tier.drained();
    expect(tier.stats.writesDropped).toBe(2);
    expect((await tier.fetch(ns, [1, 1, 1, 1], 0)).blocks).toHaveLength(0);
    expect((await tier.fetch(ns, [3, 3, 3, 3], 0)).blocks).toHaveLength(1);
  });

  it("counts a write the store refused as a failure and goes on with the next turn", async () => {
    const { tier } = setUp({ store: new MemoryBlobStore({ maxBytes: 400, whenFull: "refuse" }) });
    tier.offer(ns, range(0, 8), kvFor(8));
    await tier.drained();
    expect(tier.stats.writeFailures).toBe(1);
    expect(tier.stats.blocksWritten).toBeLessThan(2);
  });

  it("forgets queued writes of a flushed tenant", async () => {
    const { tier } = setUp();
    tier.offer(ns, range(0, 8), kvFor(8));
    tier.forget(ns.slice(0, ns.indexOf(":l2:") + 4));
    await tier.drained();
    expect(tier.stats.blocksWritten).toBe(0);
  });
});

describe("PrefixKvCache with a store tier", () => {
  it("serves a memory miss from the store's blocks, tier 'store', and the next lookup from memory", async () => {
    const { tier } = setUp();
    new PrefixKvCache({ storeTier: tier }).insert(ns, range(0, 14), kvFor(14));
    await tier.drained();
    const replica = new PrefixKvCache({ storeTier: tier });
    const hit = (await replica.lookup(ns, range(0, 13)))!;
    expect(hit.tier).toBe("store");
    expectKvOfPositions(hit.kv, 12);
    hit.release();
    const again = (await replica.lookup(ns, range(0, 13)))!;
    expect(again.tier).toBe("memory");
    expect(again.length).toBe(12);
    again.release();
    expect(replica.lockedBytes).toBe(0);
  });

  it("extends a shorter memory match with the blocks after it, cut at a block boundary", async () => {
    const { tier } = setUp();
    new PrefixKvCache({ storeTier: tier }).insert(ns, range(0, 17), kvFor(17));
    await tier.drained();
    const tiered = new PrefixKvCache({ storeTier: tier });
    tiered.insert(ns, range(0, 6), kvFor(6));
    await tier.drained();
    const hit = (await tiered.lookup(ns, range(0, 17)))!;
    expect(hit.tier).toBe("store");
    expectKvOfPositions(hit.kv, 16);
    hit.release();
    // Less than a whole block beyond the memory match: the store is not asked.
    const reads = tier.stats.blocksRead;
    const near = (await tiered.lookup(ns, range(0, 17)))!;
    expect(near).toMatchObject({ tier: "memory", length: 16 });
    near.release();
    expect(tier.stats.blocksRead).toBe(reads);
    expect(tiered.lockedBytes).toBe(0);
  });
});
