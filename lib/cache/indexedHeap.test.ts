import { describe, expect, it } from "vitest";
import { IndexedMinHeap } from "@/lib/cache/indexedHeap";
import { createRng } from "@/lib/model/sampling/prng";

interface Item {
  readonly name: number;
  key: number;
}

describe("IndexedMinHeap", () => {
  it("pops in key order and re-places an item whose key changed", () => {
    const heap = new IndexedMinHeap<Item>((a, b) => a.key - b.key);
    const items = [5, 3, 8, 1].map((key, name) => ({ name, key }));
    for (const item of items) heap.upsert(item);
    items[2].key = 0; // 8 → 0
    heap.upsert(items[2]);
    expect(heap.delete(items[1])).toBe(true);
    expect(heap.delete(items[1])).toBe(false);
    const order: number[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) order.push(item.key);
    expect(order).toEqual([0, 1, 5]);
    expect(heap.size).toBe(0);
  });

  it("agrees with a sorted list over 2000 random upserts, key changes, deletes and pops (seeded)", () => {
    const rng = createRng(3);
    const heap = new IndexedMinHeap<Item>((a, b) => a.key - b.key || a.name - b.name);
    const held = new Set<Item>();
    const pool = Array.from({ length: 50 }, (_, name) => ({ name, key: 0 }));
    for (let step = 0; step < 2000; step++) {
      const item = pool[rng.nextUint32() % pool.length];
      const op = rng.nextUint32() % 4;
      if (op < 2) {
        item.key = rng.nextUint32() % 100;
        heap.upsert(item);
        held.add(item);
      } else if (op === 2) {
        expect(heap.delete(item)).toBe(held.delete(item));
      } else {
        const expected = [...held].sort((a, b) => a.key - b.key || a.name - b.name)[0];
        expect(heap.pop()).toBe(expected);
        if (expected) held.delete(expected);
      }
      expect(heap.size).toBe(held.size);
      expect(heap.has(item)).toBe(held.has(item));
    }
  });
});
