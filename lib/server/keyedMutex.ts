/**
 * One holder at a time per key, waiters served in arrival order: the in-process layer of a chat session's turn lock
 * (sessionLocks.ts), so turns waiting in this process queue without polling the store. Keys with no holder take no
 * memory.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Resolves when `key` is free for the caller; call the returned function once to free it. */
  async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let free!: () => void;
    const held = new Promise<void>((resolve) => (free = resolve));
    const tail = previous.then(() => held);
    this.tails.set(key, tail);
    await previous;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      free();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }

  /** Keys held or waited on now. */
  get size(): number {
    return this.tails.size;
  }
}
