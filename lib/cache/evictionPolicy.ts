/**
 * The order in which L2 (prefixTree.ts) gives up its unlocked leaves when it needs room: a strategy, after SGLang's
 * `evict_policy.py`. A policy maps what the tree knows about a node to a priority; the leaf with the lowest priority is
 * evicted first, and ties go to the least recently used (`lastUse` is unique, so the order is total).
 *
 * The tree evicts only unlocked leaves, so whatever the policy, a node is never evicted before its children and a
 * locked path never at all; a policy only chooses among the leaves.
 */
export interface EvictionFacts {
  /** Logical time of the node's last use (a counter shared by the whole tree: no two uses are equal). */
  readonly lastUse: number;
  /** How many matches and inserts have walked through the node (a split copies it to both halves). */
  readonly uses: number;
  /** Logical time the node's key tokens were first stored (a split keeps it for both halves). */
  readonly storedAt: number;
}

export interface EvictionPolicy {
  readonly name: string;
  /** Lower is evicted first. Must depend only on the facts, so it changes only when the tree updates them. */
  priority(node: EvictionFacts): number;
}

/** The default: the entry unused for the longest time goes first. */
export const leastRecentlyUsed: EvictionPolicy = { name: "lru", priority: (node) => node.lastUse };

/**
 * The entry used the fewest times goes first (least recently used among equals): keeps shared system prompts longest.
 */
export const leastFrequentlyUsed: EvictionPolicy = { name: "lfu", priority: (node) => node.uses };

/** The entry stored first goes first, however often it is used. */
export const firstInFirstOut: EvictionPolicy = { name: "fifo", priority: (node) => node.storedAt };

/** Total order of a policy: its priority, then last use. Negative when `a` goes before `b`. */
export function evictionOrder(policy: EvictionPolicy): (a: EvictionFacts, b: EvictionFacts) => number {
  return (a, b) => policy.priority(a) - policy.priority(b) || a.lastUse - b.lastUse;
}
