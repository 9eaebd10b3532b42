import { describe, expect, it } from "vitest";
import { parseImageId } from "@/lib/ids";
import { featureKey, preprocessDigest, type FeatureKey } from "@/lib/cache/featureIdentity";
import { buildPrefixKey, type KeyToken, type PrefixKey } from "@/lib/cache/prefixKey";
import {
  firstInFirstOut,
  leastFrequentlyUsed,
  leastRecentlyUsed,
  type EvictionPolicy,
} from "@/lib/cache/evictionPolicy";
import { PrefixTree, type PrefixEvictionReason, type PrefixNodeView, type SegmentValue } from "@/lib/cache/prefixTree";
import { createRng } from "@/lib/model/sampling/prng";

const BYTES_PER_TOKEN = 10;

/**
 * Stands in for a KV slice: it records, for each position it covers, the position and the key token, so a test can
 * check that the values a match returns are exactly the ones stored for that prefix.
 */
class ArraySegment implements SegmentValue<ArraySegment> {
  constructor(readonly items: readonly string[]) {}

  static of(key: PrefixKey, start: number, end: number): ArraySegment {
    return new ArraySegment(key.slice(start, end).map((token, i) => `${start + i}|${token}`));
  }

  get length(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.items.length * BYTES_PER_TOKEN;
  }

  split(at: number): readonly [ArraySegment, ArraySegment] {
    return [new ArraySegment(this.items.slice(0, at)), new ArraySegment(this.items.slice(at))];
  }
}

const NS = "vlc:v1:public:l2:test";
const expectedItems = (key: PrefixKey, length: number) => ArraySegment.of(key, 0, length).items;
const joined = (values: readonly ArraySegment[]) => values.flatMap((v) => v.items);

function makeTree(
  options: { budgetTokens?: number; idleTtlMs?: number; clock?: () => number; evictionPolicy?: EvictionPolicy } = {},
) {
  const evicted: string[][] = [];
  const reasons: PrefixEvictionReason[] = [];
  const factoryCalls: [number, number][] = [];
  const tree = new PrefixTree<ArraySegment>({
    budgetBytes: (options.budgetTokens ?? 1000) * BYTES_PER_TOKEN,
    idleTtlMs: options.idleTtlMs,
    clock: options.clock,
    evictionPolicy: options.evictionPolicy,
    onEvict: (value, _namespace, reason) => {
      evicted.push([...value.items]);
      reasons.push(reason);
    },
  });
  const insert = (key: PrefixKey, namespace = NS) =>
    tree.insert(namespace, key, (start, end) => {
      factoryCalls.push([start, end]);
      return ArraySegment.of(key, start, end);
    });
  return { tree, insert, evicted, reasons, factoryCalls };
}

function lockedMatch(tree: PrefixTree<ArraySegment>, key: PrefixKey): PrefixNodeView {
  const match = tree.matchPrefix(NS, key);
  tree.lock(match.node!);
  return match.node!;
}

describe("PrefixTree: match and insert", () => {
  it("matches nothing in an empty tree", () => {
    const { tree } = makeTree();
    expect(tree.matchPrefix(NS, [1, 2, 3])).toEqual({ length: 0, values: [], node: null });
  });

  it("returns the stored values of a whole inserted key", () => {
    const { tree, insert } = makeTree();
    const key = [5, 6, 7, 8];
    expect(insert(key)).toEqual({ reusedLength: 0, addedLength: 4 });
    const match = tree.matchPrefix(NS, key);
    expect(match.length).toBe(4);
    expect(joined(match.values)).toEqual(expectedItems(key, 4));
    expect(match.node?.depth).toBe(4);
    expect(tree.totalBytes).toBe(4 * BYTES_PER_TOKEN);
  });

  it("stores a shared prefix once, splitting the edge where two keys diverge", () => {
    const { tree, insert, factoryCalls } = makeTree();
    insert([1, 2, 3, 4]);
    expect(insert([1, 2, 5, 6])).toEqual({ reusedLength: 2, addedLength: 2 });
    expect(factoryCalls).toEqual([
      [0, 4],
      [2, 4],
    ]);
    expect(tree.nodeCount).toBe(3);
    expect(tree.totalBytes).toBe(6 * BYTES_PER_TOKEN);
    const match = tree.matchPrefix(NS, [1, 2, 5, 6, 7]);
    expect(match.length).toBe(4);
    expect(match.values.map((v) => v.length)).toEqual([2, 2]);
    expect(joined(match.values)).toEqual(expectedItems([1, 2, 5, 6], 4));
    expect(joined(tree.matchPrefix(NS, [1, 2, 3, 4]).values)).toEqual(expectedItems([1, 2, 3, 4], 4));
  });

  it("splits an edge when a match ends inside it, so the returned node covers exactly the match", () => {
    const { tree, insert } = makeTree();
    insert([1, 2, 3, 4, 5, 6]);
    const match = tree.matchPrefix(NS, [1, 2, 3, 9]);
    expect(match.length).toBe(3);
    expect(match.node?.depth).toBe(3);
    expect(joined(match.values)).toEqual(expectedItems([1, 2, 3], 3));
    expect(tree.nodeCount).toBe(2);
    expect(tree.totalBytes).toBe(6 * BYTES_PER_TOKEN);
    expect(joined(tree.matchPrefix(NS, [1, 2, 3, 4, 5, 6]).values)).toEqual(expectedItems([1, 2, 3, 4, 5, 6], 6));
  });

  it("adds nothing for a key that is already stored or is a prefix of a stored one", () => {
    const { tree, insert, factoryCalls } = makeTree();
    insert([1, 2, 3, 4]);
    expect(insert([1, 2, 3, 4])).toEqual({ reusedLength: 4, addedLength: 0 });
    expect(insert([1, 2])).toEqual({ reusedLength: 2, addedLength: 0 });
    expect(insert([])).toEqual({ reusedLength: 0, addedLength: 0 });
    expect(factoryCalls).toHaveLength(1);
    expect(tree.nodeCount).toBe(1);
  });

  it("never matches across namespaces, and flushes one namespace alone", () => {
    const { tree, insert, reasons } = makeTree();
    insert([1, 2, 3], "ns-a");
    insert([1, 2, 3, 4], "ns-b");
    expect(tree.matchPrefix("ns-c", [1, 2, 3]).length).toBe(0);
    expect(tree.matchPrefix("ns-a", [1, 2, 3, 4]).length).toBe(3);
    expect(tree.namespaces().sort()).toEqual(["ns-a", "ns-b"]);
    expect(tree.evictNamespace("ns-a")).toBe(3 * BYTES_PER_TOKEN);
    expect(tree.namespaces()).toEqual(["ns-b"]);
    expect(tree.matchPrefix("ns-a", [1, 2, 3]).length).toBe(0);
    expect(tree.matchPrefix("ns-b", [1, 2, 3, 4]).length).toBe(4);
    expect(tree.evictNamespace("ns-unknown")).toBe(0);
    expect(reasons).toEqual(["flush"]);
  });

  it("keeps two different images of the same size apart from their first image token on", () => {
    const imageA = featureKey({
      imageId: parseImageId("a".repeat(64))!,
      preprocess: preprocessDigest({}),
      storage: "fp32",
    });
    const imageB = featureKey({
      imageId: parseImageId("b".repeat(64))!,
      preprocess: preprocessDigest({}),
      storage: "fp32",
    });
    const PAD = 151655;
    // <|im_start|>user <|vision_start|> pad×4 <|vision_end|> text…
    const ids = [151644, 872, 198, 151652, PAD, PAD, PAD, PAD, 151653, 3838, 374, 419, 30];
    const prompt = (feature: FeatureKey) => buildPrefixKey(ids, [{ start: 4, length: 4, feature }]);
    const { tree, insert } = makeTree();
    insert(prompt(imageA));
    expect(tree.matchPrefix(NS, prompt(imageB)).length).toBe(4);
    expect(tree.matchPrefix(NS, prompt(imageA)).length).toBe(ids.length);
    insert(prompt(imageB));
    expect(tree.totalBytes).toBe((ids.length + ids.length - 4) * BYTES_PER_TOKEN);
  });

  it("refuses values that break its invariants", () => {
    const { tree } = makeTree();
    expect(() => tree.insert(NS, [1, 2, 3], () => new ArraySegment(["only one"]))).toThrow(/covers 1 tokens/);
    class Leaky extends ArraySegment {
      override split(at: number): readonly [ArraySegment, ArraySegment] {
        return [new ArraySegment(this.items.slice(0, at)), new ArraySegment([...this.items.slice(at), "extra"])];
      }
    }
    tree.insert(NS, [1, 2, 3], () => new Leaky(["a", "b", "c"]));
    expect(() => tree.matchPrefix(NS, [1, 9])).toThrow(/split\(1\)/);
    expect(tree.totalBytes).toBe(3 * BYTES_PER_TOKEN);
  });
});

describe("PrefixTree: eviction and locking", () => {
  it("evicts least recently used leaves first, handing their values to onEvict", () => {
    const { tree, insert, evicted, reasons } = makeTree({ budgetTokens: 10 });
    insert([1, 1, 1, 1]);
    insert([2, 2, 2, 2]);
    tree.matchPrefix(NS, [1, 1, 1, 1]); // [1…] is now more recent than [2…]
    insert([3, 3, 3, 3]); // 12 tokens > 10: one leaf must go
    expect(evicted).toEqual([expectedItems([2, 2, 2, 2], 4)]);
    expect(reasons).toEqual(["budget"]);
    expect(tree.totalBytes).toBe(8 * BYTES_PER_TOKEN);
    expect(tree.matchPrefix(NS, [1, 1, 1, 1]).length).toBe(4);
    expect(tree.matchPrefix(NS, [2, 2, 2, 2]).length).toBe(0);
  });

  it("orders leaves of every namespace together: the least recently used one goes first, whichever namespace", () => {
    const other = "vlc:v1:public:l2:other";
    const { tree, insert, evicted } = makeTree({ budgetTokens: 12 });
    insert([1, 1, 1, 1]);
    insert([2, 2, 2, 2], other);
    insert([3, 3, 3, 3]);
    tree.matchPrefix(NS, [1, 1, 1, 1]);
    insert([4, 4, 4, 4], other); // 16 tokens > 12: the oldest leaf is the other namespace's [2…]
    expect(evicted).toEqual([expectedItems([2, 2, 2, 2], 4)]);
    insert([5, 5, 5, 5]); // next oldest: [3…] in NS
    expect(evicted.slice(1)).toEqual([expectedItems([3, 3, 3, 3], 4)]);
    expect(tree.matchPrefix(other, [4, 4, 4, 4]).length).toBe(4);
  });

  it("takes the eviction order from its policy: LFU keeps the often used entry, FIFO drops the first stored", () => {
    const run = (evictionPolicy: EvictionPolicy) => {
      const { tree, insert, evicted } = makeTree({ budgetTokens: 8, evictionPolicy });
      insert([1, 1, 1, 1]);
      insert([2, 2, 2, 2]);
      tree.matchPrefix(NS, [1, 1, 1, 1]);
      tree.matchPrefix(NS, [1, 1, 1, 1]);
      tree.matchPrefix(NS, [2, 2, 2, 2]); // [2…] is the most recent, [1…] the most used and the first stored
      tree.evict(1);
      return evicted;
    };
    expect(run(leastRecentlyUsed)).toEqual([expectedItems([1, 1, 1, 1], 4)]);
    expect(run(leastFrequentlyUsed)).toEqual([expectedItems([2, 2, 2, 2], 4)]);
    expect(run(firstInFirstOut)).toEqual([expectedItems([1, 1, 1, 1], 4)]);
  });

  it("never evicts the entry an insert is adding, whatever the policy", () => {
    const { tree, insert, evicted } = makeTree({ budgetTokens: 8, evictionPolicy: leastFrequentlyUsed });
    insert([1, 1, 1, 1]);
    tree.matchPrefix(NS, [1, 1, 1, 1]);
    insert([2, 2, 2, 2]);
    insert([3, 3, 3, 3]); // the new leaf is the least used one, yet [2…] makes room for it
    expect(evicted).toEqual([expectedItems([2, 2, 2, 2], 4)]);
    expect(tree.matchPrefix(NS, [3, 3, 3, 3]).length).toBe(4);
  });

  it("refreshes only the matched part of an edge: its unmatched tail ages", () => {
    const { tree, insert, evicted } = makeTree();
    insert([1, 1, 1, 1]);
    insert([2, 2]);
    tree.matchPrefix(NS, [1, 1]);
    expect(tree.evict(1)).toBe(2 * BYTES_PER_TOKEN);
    expect(evicted).toEqual([["2|1", "3|1"]]);
    expect(tree.matchPrefix(NS, [1, 1, 1, 1]).length).toBe(2);
  });

  it("evicts children before the prefix they share, and the prefix once it is a leaf", () => {
    const { tree, insert, evicted } = makeTree();
    insert([1, 2, 3, 4]);
    insert([1, 2, 5, 6]);
    tree.matchPrefix(NS, [1, 2, 5]); // the [5, 6] branch (now split at 5) is the recent one
    expect(tree.evict(1)).toBe(2 * BYTES_PER_TOKEN);
    expect(evicted).toEqual([["2|3", "3|4"]]);
    expect(tree.evict(Infinity)).toBe(4 * BYTES_PER_TOKEN);
    expect(evicted.slice(1)).toEqual([["3|6"], ["2|5"], ["0|1", "1|2"]]);
    expect(tree.totalBytes).toBe(0);
    expect(tree.nodeCount).toBe(0);
    expect(tree.namespaces()).toEqual([]);
  });

  it("never evicts a locked node or its ancestors, and frees them once unlocked", () => {
    const { tree, insert } = makeTree();
    insert([1, 2, 3, 4]);
    insert([1, 2, 5, 6]);
    insert([7, 8]);
    const node = lockedMatch(tree, [1, 2, 3, 4]);
    expect(node.lockCount).toBe(1);
    expect(tree.evict(Infinity)).toBe(4 * BYTES_PER_TOKEN); // [5, 6] and [7, 8]
    expect(tree.matchPrefix(NS, [1, 2, 3, 4]).length).toBe(4);
    expect(node.evicted).toBe(false);
    tree.unlock(node);
    expect(node.lockCount).toBe(0);
    expect(tree.evict(Infinity)).toBe(4 * BYTES_PER_TOKEN);
    expect(node.evicted).toBe(true);
  });

  it("counts locks: a node stays protected until every holder has unlocked it", () => {
    const { tree, insert } = makeTree();
    insert([1, 2, 3]);
    const first = lockedMatch(tree, [1, 2, 3]);
    const second = lockedMatch(tree, [1, 2, 3]);
    expect(second).toBe(first);
    tree.unlock(first);
    expect(tree.evict(Infinity)).toBe(0);
    tree.unlock(second);
    expect(tree.evict(Infinity)).toBe(3 * BYTES_PER_TOKEN);
  });

  it("carries a lock through a later split of the locked edge", () => {
    const { tree, insert } = makeTree();
    insert([1, 2, 3, 4]);
    const node = lockedMatch(tree, [1, 2, 3, 4]);
    insert([1, 2, 9]); // splits [1, 2, 3, 4] into [1, 2] → [3, 4]
    expect(tree.evict(Infinity)).toBe(1 * BYTES_PER_TOKEN); // only [9]
    expect(tree.matchPrefix(NS, [1, 2, 3, 4]).length).toBe(4);
    tree.unlock(node);
    expect(tree.evict(Infinity)).toBe(4 * BYTES_PER_TOKEN);
  });

  it("refuses to lock an evicted node, unlock an unlocked one, or touch another tree's node", () => {
    const { tree, insert } = makeTree();
    insert([1, 2]);
    const node = tree.matchPrefix(NS, [1, 2]).node!;
    expect(() => tree.unlock(node)).toThrow(/not locked/);
    const other = makeTree();
    other.insert([1, 2]);
    expect(() => other.tree.lock(node)).toThrow(/another tree/);
    tree.evict(Infinity);
    expect(() => tree.lock(node)).toThrow(/evicted/);
  });

  it("makes room for an insert by evicting others, and refuses one that cannot fit beside the locked entries", () => {
    const { tree, insert, evicted, reasons } = makeTree({ budgetTokens: 5 });
    insert([1, 1, 1]);
    const locked = lockedMatch(tree, [1, 1, 1]);
    expect(tree.lockedBytes).toBe(3 * BYTES_PER_TOKEN);
    // 3 locked + 3 new > 5: refused, and handed back through onEvict.
    expect(insert([2, 2, 2])).toEqual({ reusedLength: 0, addedLength: 0 });
    expect(reasons).toEqual(["refused"]);
    expect(evicted).toEqual([expectedItems([2, 2, 2], 3)]);
    expect(tree.totalBytes).toBe(3 * BYTES_PER_TOKEN);
    tree.unlock(locked);
    expect(tree.lockedBytes).toBe(0);
    // Unlocked, the old entry is the one to go.
    expect(insert([2, 2, 2])).toEqual({ reusedLength: 0, addedLength: 3 });
    expect(reasons).toEqual(["refused", "budget"]);
    expect(tree.matchPrefix(NS, [1, 1, 1]).length).toBe(0);
    // Larger than the whole budget: refused without evicting anything for it.
    expect(insert([3, 3, 3, 3, 3, 3])).toEqual({ reusedLength: 0, addedLength: 0 });
    expect(tree.matchPrefix(NS, [2, 2, 2]).length).toBe(3);
    expect(tree.namespaces()).toEqual([NS]);
  });

  it("protects the path an insert extends: the shared prefix stays while others make room", () => {
    const { tree, insert } = makeTree({ budgetTokens: 8 });
    insert([1, 1, 1]);
    insert([9, 9, 9]);
    tree.matchPrefix(NS, [9, 9, 9]); // [1, 1, 1] is now the least recently used
    expect(insert([1, 1, 1, 2, 2, 2])).toEqual({ reusedLength: 3, addedLength: 3 });
    expect(tree.matchPrefix(NS, [1, 1, 1, 2, 2, 2]).length).toBe(6);
    expect(tree.matchPrefix(NS, [9, 9, 9]).length).toBe(0);
    expect(tree.totalBytes).toBe(6 * BYTES_PER_TOKEN);
  });

  it("tracks locked bytes through nested locks and splits", () => {
    const { tree, insert } = makeTree();
    insert([1, 2, 3, 4]);
    const deep = lockedMatch(tree, [1, 2, 3, 4]);
    const shallow = lockedMatch(tree, [1, 2]); // splits the locked edge
    expect(tree.lockedBytes).toBe(4 * BYTES_PER_TOKEN);
    tree.unlock(deep);
    expect(tree.lockedBytes).toBe(2 * BYTES_PER_TOKEN);
    tree.unlock(shallow);
    expect(tree.lockedBytes).toBe(0);
  });

  it("evicts subtrees idle for the TTL, but not locked ones, nor a prefix still used through a child", () => {
    let now = 0;
    const minute = 60_000;
    const { tree, insert, reasons } = makeTree({ idleTtlMs: 60 * minute, clock: () => now });
    insert([1, 2, 3]);
    insert([7, 8]);
    insert([9, 9]);
    const locked = lockedMatch(tree, [9, 9]);
    now = 10 * minute;
    insert([1, 2, 4]); // [1, 2] is used again through its new child
    now = 65 * minute;
    expect(tree.evictIdle()).toBe(3 * BYTES_PER_TOKEN); // [3] and [7, 8]; [9, 9] is locked
    expect(tree.matchPrefix(NS, [1, 2, 4]).length).toBe(3);
    expect(tree.matchPrefix(NS, [7, 8]).length).toBe(0);
    tree.unlock(locked);
    now = 130 * minute;
    expect(tree.evictIdle()).toBe(5 * BYTES_PER_TOKEN);
    expect(tree.totalBytes).toBe(0);
    expect(new Set(reasons)).toEqual(new Set(["idle"]));
  });
});

describe("PrefixTree: randomised operations (seeded)", () => {
  // Keys share prefixes the way chats do: a few system prompts, then a few first turns, then random tails.
  function randomKey(rng: ReturnType<typeof createRng>): KeyToken[] {
    const pick = (n: number) => rng.nextUint32() % n;
    const system = Array.from({ length: 3 + pick(3) }, (_, i) => 100 * (1 + pick(3)) + i);
    const image = pick(2) === 0 ? Array.from({ length: 4 }, (_, k) => `img:${pick(3)}:${k}`) : [];
    const turn = Array.from({ length: 1 + pick(4) }, () => pick(6));
    const tail = Array.from({ length: pick(6) }, () => pick(50));
    return [...system, ...image, ...turn, ...tail];
  }

  const lcp = (a: PrefixKey, b: PrefixKey) => {
    let n = 0;
    while (n < a.length && n < b.length && a[n] === b[n]) n += 1;
    return n;
  };

  it("matches the longest common prefix with anything inserted when nothing is evicted", () => {
    const rng = createRng(11);
    const { tree, insert } = makeTree({ budgetTokens: 1_000_000 });
    const inserted: PrefixKey[] = [];
    for (let step = 0; step < 500; step++) {
      const key = randomKey(rng);
      if (rng.nextUint32() % 2 === 0) {
        insert(key);
        inserted.push(key);
        continue;
      }
      const match = tree.matchPrefix(NS, key);
      expect(match.length).toBe(Math.max(0, ...inserted.map((stored) => lcp(stored, key))));
      expect(joined(match.values)).toEqual(expectedItems(key, match.length));
    }
    expect(inserted.length).toBeGreaterThan(200);
  });

  it.each([leastRecentlyUsed, leastFrequentlyUsed, firstInFirstOut])(
    "keeps bytes, budget, locks and stored values consistent over 500 mixed operations ($name)",
    (evictionPolicy) => {
      const rng = createRng(5);
      let now = 0;
      const budgetTokens = 60;
      const { tree, insert, evicted, factoryCalls } = makeTree({
        budgetTokens,
        idleTtlMs: 50_000,
        clock: () => now,
        evictionPolicy,
      });
      const locks: { node: PrefixNodeView; key: PrefixKey }[] = [];
      const counts = { insert: 0, match: 0, lock: 0, unlock: 0, idle: 0, evictedByBudget: 0 };
      for (let step = 0; step < 500; step++) {
        now += 1_000 * (rng.nextUint32() % 5);
        const op = rng.nextUint32() % 10;
        const key = randomKey(rng);
        if (op < 4) {
          const before = evicted.length;
          insert(key);
          counts.insert += 1;
          if (evicted.length > before) counts.evictedByBudget += 1;
        } else if (op < 7) {
          const match = tree.matchPrefix(NS, key);
          expect(joined(match.values)).toEqual(expectedItems(key, match.length));
          counts.match += 1;
          if (match.node !== null && op === 6) {
            tree.lock(match.node);
            locks.push({ node: match.node, key: key.slice(0, match.length) });
            counts.lock += 1;
          }
        } else if (op < 9 && locks.length > 0) {
          const [released] = locks.splice(rng.nextUint32() % locks.length, 1);
          tree.unlock(released.node);
          counts.unlock += 1;
        } else {
          tree.evictIdle();
          counts.idle += 1;
        }

        // Every byte made for the tree is either still in it or was handed back through onEvict.
        const createdTokens = factoryCalls.reduce((sum, [start, end]) => sum + end - start, 0);
        const evictedTokens = evicted.reduce((sum, items) => sum + items.length, 0);
        expect(tree.totalBytes).toBe((createdTokens - evictedTokens) * BYTES_PER_TOKEN);
        expect(tree.lockedBytes).toBeLessThanOrEqual(tree.totalBytes);
        expect(tree.totalBytes).toBeLessThanOrEqual(budgetTokens * BYTES_PER_TOKEN);
        for (const { node, key: lockedKey } of locks) {
          expect(node.evicted).toBe(false);
          expect(node.lockCount).toBeGreaterThan(0);
          expect(node.depth).toBe(lockedKey.length);
        }
      }
      // The run exercised every path, including evictions under budget pressure.
      expect(Object.values(counts).every((n) => n > 5)).toBe(true);
      for (const { node } of locks) tree.unlock(node);
      tree.evict(Infinity);
      expect(tree.totalBytes).toBe(0);
    },
  );
});
