import { describe, expect, it } from "vitest";
import { ByteLru } from "@/lib/cache/byteLru";
import { createRng } from "@/lib/model/sampling/prng";

function lruWithLog(maxBytes: number) {
  const evicted: string[] = [];
  const lru = new ByteLru<string, string>({
    maxBytes,
    onEvict: (key, _value, bytes) => evicted.push(`${key}:${bytes}`),
  });
  return { lru, evicted };
}

describe("ByteLru", () => {
  it("stores and returns entries, counting their bytes", () => {
    const { lru } = lruWithLog(100);
    expect(lru.set("a", "A", 30)).toBe(true);
    expect(lru.set("b", "B", 20)).toBe(true);
    expect(lru.get("a")).toBe("A");
    expect(lru.get("missing")).toBeUndefined();
    expect(lru.size).toBe(2);
    expect(lru.bytes).toBe(50);
  });

  it("evicts least recently used entries until the new one fits", () => {
    const { lru, evicted } = lruWithLog(100);
    lru.set("a", "A", 40);
    lru.set("b", "B", 30);
    lru.set("c", "C", 20);
    lru.get("a"); // order now b, c, a
    lru.set("d", "D", 50); // 140 → drop b (110) → drop c (90)
    expect(evicted).toEqual(["b:30", "c:20"]);
    expect([lru.has("a"), lru.has("b"), lru.has("c"), lru.has("d")]).toEqual([true, false, false, true]);
    expect(lru.bytes).toBe(90);
  });

  it("does not reorder on has", () => {
    const { lru, evicted } = lruWithLog(50);
    lru.set("a", "A", 25);
    lru.set("b", "B", 25);
    expect(lru.has("a")).toBe(true);
    lru.set("c", "C", 25);
    expect(evicted).toEqual(["a:25"]);
  });

  it("refuses an entry larger than the whole budget, dropping the key's older entry and nothing else", () => {
    const { lru, evicted } = lruWithLog(100);
    lru.set("a", "A", 60);
    lru.set("b", "old", 30);
    expect(lru.set("b", "huge", 101)).toBe(false);
    expect(lru.get("b")).toBeUndefined();
    expect(lru.get("a")).toBe("A");
    expect(lru.bytes).toBe(60);
    expect(evicted).toEqual([]);
    expect(lru.set("c", "exact", 40)).toBe(true);
    expect(lru.bytes).toBe(100);
  });

  it("replaces an entry without reporting an eviction and re-counts its bytes", () => {
    const { lru, evicted } = lruWithLog(100);
    lru.set("a", "A1", 60);
    lru.set("a", "A2", 10);
    expect(lru.get("a")).toBe("A2");
    expect(lru.bytes).toBe(10);
    expect(evicted).toEqual([]);
  });

  it("deletes the entries whose keys pass a test, without reporting evictions", () => {
    const evicted: string[] = [];
    const lru = new ByteLru<string, number>({ maxBytes: 100, onEvict: (key) => evicted.push(key) });
    lru.set("a:1", 1, 10);
    lru.set("b:1", 2, 20);
    lru.set("a:2", 3, 30);
    expect(lru.deleteWhere((key) => key.startsWith("a:"))).toBe(2);
    expect([lru.size, lru.bytes, lru.has("b:1"), evicted]).toEqual([1, 20, true, []]);
  });

  it("deletes and clears", () => {
    const { lru } = lruWithLog(100);
    lru.set("a", "A", 10);
    lru.set("b", "B", 10);
    expect(lru.delete("a")).toBe(true);
    expect(lru.delete("a")).toBe(false);
    expect(lru.bytes).toBe(10);
    lru.clear();
    expect([lru.size, lru.bytes]).toEqual([0, 0]);
  });

  it("rejects sizes that are not non-negative integers", () => {
    expect(() => new ByteLru({ maxBytes: -1 })).toThrow(RangeError);
    const { lru } = lruWithLog(10);
    expect(() => lru.set("a", "A", 1.5)).toThrow(RangeError);
    expect(() => lru.set("a", "A", NaN)).toThrow(RangeError);
    expect(lru.size).toBe(0);
  });

  it("matches a reference model over 2000 random operations", () => {
    const rng = createRng(2024);
    const maxBytes = 1000;
    const lru = new ByteLru<number, number>({ maxBytes });
    // Reference: an array ordered from least to most recently used.
    let model: { key: number; value: number; bytes: number }[] = [];
    for (let step = 0; step < 2000; step++) {
      const key = rng.nextUint32() % 20;
      const op = rng.nextUint32() % 3;
      if (op === 0) {
        const bytes = rng.nextUint32() % 400;
        const value = step;
        lru.set(key, value, bytes);
        model = model.filter((e) => e.key !== key);
        model.push({ key, value, bytes });
        while (model.reduce((s, e) => s + e.bytes, 0) > maxBytes) model.shift();
      } else if (op === 1) {
        const entry = model.find((e) => e.key === key);
        expect(lru.get(key)).toBe(entry?.value);
        if (entry) model = [...model.filter((e) => e !== entry), entry];
      } else {
        expect(lru.delete(key)).toBe(model.some((e) => e.key === key));
        model = model.filter((e) => e.key !== key);
      }
      expect(lru.bytes).toBe(model.reduce((s, e) => s + e.bytes, 0));
      expect(lru.bytes).toBeLessThanOrEqual(maxBytes);
      expect(lru.size).toBe(model.length);
    }
  });
});
