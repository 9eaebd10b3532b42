/**
 * L2: an in-process radix tree of KV prefixes, generic over what a stored segment is, so it can be tested with plain
 * arrays and hold onnxruntime KV slices in the engine.
 *
 * Shape. Each namespace (one tenant and model, keys.ts `l2Namespace`) has its own root; nothing is shared across
 * namespaces, but they share one byte budget. Every other node holds an edge: a run of key tokens (prefixKey.ts) and
 * the value for exactly those positions, so the values along a root-to-node path, concatenated, are the KV of the
 * node's whole prefix. Children are indexed by their first key token, so siblings never share a first token.
 *
 * Verbs (after SGLang's radix cache):
 * - `matchPrefix(ns, key)` finds the longest stored prefix of `key` and returns its values in order, splitting an edge
 *   when the match ends inside it so the returned node covers exactly the match. It marks the path as used.
 *   A caller that needs logits for the last prompt token must leave at least one token unmatched (match
 *   `key.slice(0, -1)`), since a stored value holds KV, not logits.
 * - `insert(ns, key, makeValue)` stores the part of `key` not yet in the tree, asking `makeValue(start, end)` for the
 *   value of positions [start, end) only, then evicts other entries to stay within budget. When the new value could not
 *   fit even with every unlocked entry gone (locked bytes + its bytes > budget), it is refused instead, and nothing
 *   else is evicted for it.
 * - `lock(node)` / `unlock(node)` count a user of a node and all its ancestors: a request holds a lock on the node it
 *   reuses from match until its prefill no longer reads that KV.
 * - `evict(bytes)`, `evictIdle(now)`, `evictNamespace(ns)` free leaves.
 *
 * Eviction order is a strategy (evictionPolicy.ts, after SGLang's `evict_policy`): least recently used by default.
 * The tree keeps the set of evictable nodes — unlocked leaves — in a heap ordered by the policy, updated whenever a
 * node is used, locked, unlocked, gains or loses its last child; so a budget eviction takes the first leaf at once
 * instead of scanning every namespace (scripts/bench-prefix-tree.ts measures it).
 *
 * Invariants:
 * - value.length === key.length on every node, and `split` conserves bytes (head.bytes + tail.bytes === bytes), so
 *   `totalBytes` is always the sum of the stored values' bytes.
 * - Only unlocked leaves are evicted, in the policy's order; a leaf's parent becomes a candidate once it is an
 *   unlocked leaf itself. Hence a locked node and all its ancestors are never evicted, and no policy evicts a parent
 *   before its children. A node's lock count is at least each child's (locks count along the path).
 * - The evictable heap holds exactly the tree's unlocked leaves (roots and evicted nodes never).
 * - totalBytes <= budgetBytes at all times: an insert either makes room by evicting unlocked entries outside its own
 *   path or, when even that would not be enough, is refused (a lock never adds bytes, splits conserve them).
 * - `lockedBytes` is the sum of the values of nodes with a lock count above zero.
 * - A node, once evicted, never returns to the tree; `lock` on it throws.
 * Every value the tree lets go of — evicted for the budget, for idleness or by a flush, or refused at insert — is
 * handed to `onEvict` with the reason, so the owner can release its memory and count it.
 */

import { evictionOrder, leastRecentlyUsed, type EvictionFacts, type EvictionPolicy } from "@/lib/cache/evictionPolicy";
import { IndexedMinHeap } from "@/lib/cache/indexedHeap";
import type { KeyToken, PrefixKey } from "@/lib/cache/prefixKey";

export interface SegmentValue<Self> {
  /** Number of key tokens (prompt positions) this value covers. */
  readonly length: number;
  readonly bytes: number;
  /** The values of positions [0, at) and [at, length); the tree drops `this` afterwards. */
  split(at: number): readonly [Self, Self];
}

export const DEFAULT_L2_BUDGET_BYTES = 1024 ** 3;
export const DEFAULT_L2_IDLE_TTL_MS = 60 * 60 * 1000;

export interface PrefixTreeOptions<V> {
  readonly budgetBytes?: number;
  readonly idleTtlMs?: number;
  /** Milliseconds; Date.now unless a test drives time. */
  readonly clock?: () => number;
  readonly onEvict?: (value: V, namespace: string, reason: PrefixEvictionReason) => void;
  /** Which unlocked leaf goes first when room is needed; least recently used unless given. */
  readonly evictionPolicy?: EvictionPolicy;
}

export type PrefixEvictionReason = "budget" | "idle" | "flush" | "refused";

/** What callers may see of a node: enough to lock it and to reason about it, nothing to mutate. */
export interface PrefixNodeView {
  readonly namespace: string;
  /** Key tokens from the root to the end of this node. */
  readonly depth: number;
  readonly lockCount: number;
  readonly lastAccessMs: number;
  readonly evicted: boolean;
}

export interface PrefixMatch<V> {
  /** Number of leading key tokens whose values are stored. */
  readonly length: number;
  /** Values along the path, in order; their lengths add up to `length`. */
  readonly values: readonly V[];
  /** The node that ends the match, for `lock`; null when nothing matched. */
  readonly node: PrefixNodeView | null;
}

export interface PrefixInsert {
  /** Leading tokens that were already stored. */
  readonly reusedLength: number;
  /** Tokens newly stored: key.length - reusedLength, or 0 when nothing was new or the new value was refused. */
  readonly addedLength: number;
}

class TreeNode<V> implements PrefixNodeView, EvictionFacts {
  readonly children = new Map<KeyToken, TreeNode<V>>();
  lockCount = 0;
  /** Logical time of the last use: a counter, so eviction order has no ties. */
  lastUse = 0;
  uses = 0;
  storedAt = 0;
  lastAccessMs = 0;
  evicted = false;

  constructor(
    /** The tree that made this node: views handed out by one tree are refused by another. */
    readonly owner: object,
    readonly namespace: string,
    public key: KeyToken[],
    public value: V | null,
    public parent: TreeNode<V> | null,
    public depth: number,
  ) {}

  get isRoot(): boolean {
    return this.parent === null;
  }
}

export class PrefixTree<V extends SegmentValue<V>> {
  readonly budgetBytes: number;
  readonly idleTtlMs: number;
  private readonly clock: () => number;
  private readonly onEvict: ((value: V, namespace: string, reason: PrefixEvictionReason) => void) | undefined;
  private readonly roots = new Map<string, TreeNode<V>>();
  private readonly order: (a: TreeNode<V>, b: TreeNode<V>) => number;
  /** The unlocked leaves of every namespace, first to evict on top. */
  private readonly evictable: IndexedMinHeap<TreeNode<V>>;
  private bytes = 0;
  private locked = 0;
  private nodes = 0;
  private useCounter = 0;

  constructor(options: PrefixTreeOptions<V> = {}) {
    this.budgetBytes = options.budgetBytes ?? DEFAULT_L2_BUDGET_BYTES;
    this.idleTtlMs = options.idleTtlMs ?? DEFAULT_L2_IDLE_TTL_MS;
    if (!(this.budgetBytes >= 0) || !(this.idleTtlMs >= 0)) {
      throw new RangeError(`PrefixTree: budget ${this.budgetBytes} and idle TTL ${this.idleTtlMs} must be ≥ 0`);
    }
    this.clock = options.clock ?? Date.now;
    this.onEvict = options.onEvict;
    this.order = evictionOrder(options.evictionPolicy ?? leastRecentlyUsed);
    this.evictable = new IndexedMinHeap(this.order);
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /** Bytes no eviction can free right now. */
  get lockedBytes(): number {
    return this.locked;
  }

  /** Stored edges, roots excluded. */
  get nodeCount(): number {
    return this.nodes;
  }

  namespaces(): string[] {
    return [...this.roots.keys()];
  }

  matchPrefix(namespace: string, key: PrefixKey): PrefixMatch<V> {
    const root = this.roots.get(namespace);
    if (root === undefined) return { length: 0, values: [], node: null };
    const use = this.nextUse();
    this.touch(root, use);
    const values: V[] = [];
    let node = root;
    let matched = 0;
    while (matched < key.length) {
      const child = node.children.get(key[matched]);
      if (child === undefined) break;
      const common = commonLength(child.key, key, matched);
      const reached = common < child.key.length ? this.split(child, common) : child;
      this.touch(reached, use);
      values.push(reached.value!);
      node = reached;
      matched += common;
      if (reached !== child) break;
    }
    return { length: matched, values, node: node.isRoot ? null : node };
  }

  insert(namespace: string, key: PrefixKey, makeValue: (start: number, end: number) => V): PrefixInsert {
    let root = this.roots.get(namespace);
    if (root === undefined) {
      root = new TreeNode<V>(this, namespace, [], null, null, 0);
      this.roots.set(namespace, root);
    }
    const use = this.nextUse();
    this.touch(root, use);
    let node = root;
    let matched = 0;
    while (matched < key.length) {
      const child = node.children.get(key[matched]);
      if (child === undefined) break;
      const common = commonLength(child.key, key, matched);
      if (common < child.key.length && matched + common < key.length) {
        // The key leaves this edge midway: split it so the new suffix can hang off the shared part.
        node = this.split(child, common);
      } else {
        node = child;
      }
      this.touch(node, use);
      matched += common;
      if (common < child.key.length) break;
    }
    if (matched === key.length) {
      this.dropIfEmpty(root);
      return { reusedLength: matched, addedLength: 0 };
    }

    const value = makeValue(matched, key.length);
    if (value.length !== key.length - matched) {
      throw new RangeError(`PrefixTree.insert: makeValue(${matched}, ${key.length}) covers ${value.length} tokens`);
    }
    if (this.lockedBytesWith(node) + value.bytes > this.budgetBytes) {
      this.onEvict?.(value, namespace, "refused");
      this.dropIfEmpty(root);
      return { reusedLength: matched, addedLength: 0 };
    }
    const leaf = new TreeNode<V>(this, namespace, key.slice(matched), value, node, key.length);
    leaf.storedAt = use;
    node.children.set(leaf.key[0], leaf);
    this.refresh(node);
    this.touch(leaf, use);
    this.bytes += value.bytes;
    this.nodes += 1;
    // The new leaf and its path are protected while room is made, so room is made among the others only.
    this.addLock(leaf, +1);
    if (this.bytes > this.budgetBytes) this.evict(this.bytes - this.budgetBytes);
    this.addLock(leaf, -1);
    return { reusedLength: matched, addedLength: key.length - matched };
  }

  lock(view: PrefixNodeView): void {
    const node = this.own(view);
    if (node.evicted) throw new Error("PrefixTree.lock: the node has been evicted");
    this.addLock(node, +1);
  }

  unlock(view: PrefixNodeView): void {
    const node = this.own(view);
    if (node.lockCount === 0) throw new Error("PrefixTree.unlock: the node is not locked");
    this.addLock(node, -1);
  }

  /** Frees at least `bytesNeeded` if unlocked leaves allow, in the policy's order; returns the bytes freed. */
  evict(bytesNeeded: number): number {
    let freed = 0;
    while (freed < bytesNeeded) {
      const leaf = this.evictable.peek();
      if (leaf === undefined) break;
      freed += this.removeLeaf(leaf, "budget");
    }
    return freed;
  }

  /** Evicts every unlocked subtree unused for at least the idle TTL; returns the bytes freed. */
  evictIdle(now: number = this.clock()): number {
    const cutoff = now - this.idleTtlMs;
    return this.evictWhere(this.evictable.values(), "idle", (node) => node.lastAccessMs <= cutoff);
  }

  /** Flush: evicts everything unlocked in one namespace; returns the bytes freed. */
  evictNamespace(namespace: string): number {
    const root = this.roots.get(namespace);
    if (root === undefined) return 0;
    const leaves: TreeNode<V>[] = [];
    const stack = [root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (this.evictable.has(node)) leaves.push(node);
      for (const child of node.children.values()) stack.push(child);
    }
    return this.evictWhere(leaves, "flush", () => true);
  }

  /** Adds `delta` to the lock count of `node` and its ancestors (roots excluded), keeping `lockedBytes` in step. */
  private addLock(node: TreeNode<V>, delta: 1 | -1): void {
    for (let n = node; !n.isRoot; n = n.parent!) {
      const wasLocked = n.lockCount > 0;
      n.lockCount += delta;
      if (wasLocked !== n.lockCount > 0) {
        this.locked += delta * n.value!.bytes;
        this.refresh(n);
      }
    }
  }

  /** `lockedBytes` as it would be with `node`'s path locked too (the part of an insert no eviction can free). */
  private lockedBytesWith(node: TreeNode<V>): number {
    let bytes = this.locked;
    for (let n = node; !n.isRoot && n.lockCount === 0; n = n.parent!) bytes += n.value!.bytes;
    return bytes;
  }

  /** Puts `node` into the evictable heap, re-places it, or takes it out, after whatever changed about it. */
  private refresh(node: TreeNode<V>): void {
    if (!node.isRoot && !node.evicted && node.children.size === 0 && node.lockCount === 0) this.evictable.upsert(node);
    else this.evictable.delete(node);
  }

  private nextUse(): number {
    this.useCounter += 1;
    return this.useCounter;
  }

  private touch(node: TreeNode<V>, use: number): void {
    node.lastUse = use;
    node.uses += 1;
    node.lastAccessMs = this.clock();
    this.refresh(node);
  }

  private own(view: PrefixNodeView): TreeNode<V> {
    if (!(view instanceof TreeNode) || view.owner !== this)
      throw new Error("PrefixTree: the node belongs to another tree");
    return view as TreeNode<V>;
  }

  /** Splits `node` after `at` key tokens; returns the new upper node, whose only child is `node`. */
  private split(node: TreeNode<V>, at: number): TreeNode<V> {
    const value = node.value!;
    const [head, tail] = value.split(at);
    if (head.length !== at || tail.length !== value.length - at || head.bytes + tail.bytes !== value.bytes) {
      throw new Error(
        `PrefixTree: split(${at}) of a ${value.length}-token, ${value.bytes}-byte value gave ` +
          `${head.length}+${tail.length} tokens, ${head.bytes}+${tail.bytes} bytes`,
      );
    }
    const parent = node.parent!;
    const upper = new TreeNode<V>(
      this,
      node.namespace,
      node.key.slice(0, at),
      head,
      parent,
      node.depth - node.key.length + at,
    );
    upper.lockCount = node.lockCount;
    upper.lastUse = node.lastUse;
    upper.uses = node.uses;
    upper.storedAt = node.storedAt;
    upper.lastAccessMs = node.lastAccessMs;
    parent.children.set(upper.key[0], upper);
    node.key = node.key.slice(at);
    node.value = tail;
    node.parent = upper;
    upper.children.set(node.key[0], node);
    this.nodes += 1;
    return upper;
  }

  /**
   * Evicts the evictable `candidates` that pass `eligible`, in the policy's order, and each parent that becomes an
   * eligible evictable leaf on the way; returns the bytes freed.
   */
  private evictWhere(
    candidates: readonly TreeNode<V>[],
    reason: PrefixEvictionReason,
    eligible: (node: TreeNode<V>) => boolean,
  ): number {
    const queue = new IndexedMinHeap(this.order);
    for (const node of candidates) if (eligible(node)) queue.upsert(node);
    let freed = 0;
    for (let leaf = queue.pop(); leaf !== undefined; leaf = queue.pop()) {
      const parent = leaf.parent!;
      freed += this.removeLeaf(leaf, reason);
      if (this.evictable.has(parent) && eligible(parent)) queue.upsert(parent);
    }
    return freed;
  }

  /** Takes an unlocked leaf out of the tree and hands its value to `onEvict`; returns its bytes. */
  private removeLeaf(leaf: TreeNode<V>, reason: PrefixEvictionReason): number {
    const parent = leaf.parent!;
    const value = leaf.value!;
    parent.children.delete(leaf.key[0]);
    leaf.evicted = true;
    this.evictable.delete(leaf);
    this.bytes -= value.bytes;
    this.nodes -= 1;
    this.onEvict?.(value, leaf.namespace, reason);
    this.refresh(parent);
    this.dropIfEmpty(parent);
    return value.bytes;
  }

  private dropIfEmpty(node: TreeNode<V>): void {
    if (node.isRoot && node.children.size === 0) this.roots.delete(node.namespace);
  }
}

function commonLength(edge: readonly KeyToken[], key: PrefixKey, offset: number): number {
  const limit = Math.min(edge.length, key.length - offset);
  let n = 0;
  while (n < limit && edge[n] === key[offset + n]) n += 1;
  return n;
}
