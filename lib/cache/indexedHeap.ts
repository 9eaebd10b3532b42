/**
 * A binary min-heap that knows where each of its items sits, so an item can be removed or re-placed after its key
 * changed in O(log n) — what keeps L2's set of evictable leaves (prefixTree.ts) up to date without rescanning the tree.
 *
 * Invariants: every item is held at most once; `position.get(item)` is its index in `items`; each item is ordered
 * no later than its children under `before`. `before` must not change its answer for items in the heap except
 * through `update`, which the owner calls after changing an item's key.
 */
export class IndexedMinHeap<T> {
  private readonly items: T[] = [];
  private readonly position = new Map<T, number>();

  constructor(private readonly order: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.position.has(item);
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Every item, in no particular order. */
  values(): readonly T[] {
    return [...this.items];
  }

  /** Adds `item`, or re-places it when it is already held (its key changed). */
  upsert(item: T): void {
    const at = this.position.get(item);
    if (at === undefined) {
      this.items.push(item);
      this.position.set(item, this.items.length - 1);
      this.siftUp(this.items.length - 1);
    } else {
      this.siftDown(this.siftUp(at));
    }
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.delete(top);
    return top;
  }

  /** Removes `item`; false when it was not held. */
  delete(item: T): boolean {
    const at = this.position.get(item);
    if (at === undefined) return false;
    this.position.delete(item);
    const last = this.items.pop()!;
    if (at < this.items.length) {
      this.items[at] = last;
      this.position.set(last, at);
      this.siftDown(this.siftUp(at));
    }
    return true;
  }

  private siftUp(start: number): number {
    let i = start;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (this.order(this.items[up], this.items[i]) <= 0) break;
      this.swap(i, up);
      i = up;
    }
    return i;
  }

  private siftDown(start: number): void {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < this.items.length && this.order(this.items[left], this.items[least]) < 0) least = left;
      if (right < this.items.length && this.order(this.items[right], this.items[least]) < 0) least = right;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }

  private swap(i: number, j: number): void {
    const a = this.items[i];
    const b = this.items[j];
    this.items[i] = b;
    this.items[j] = a;
    this.position.set(b, i);
    this.position.set(a, j);
  }
}
