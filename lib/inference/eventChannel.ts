/**
 * A single-consumer async queue between a producer task and a `for await` loop.
 *
 * Why not an async generator: a generator only runs while its consumer calls next(), so a consumer that stops reading
 * (a client that went away without the HTTP layer noticing yet) would park the generation at a `yield` while it holds
 * an engine slot and KV memory. Here the producer runs on its own and never waits for the consumer; events are small
 * and bounded by maxNewTokens, so buffering them is cheap. A consumer that leaves early (`return()`, which `break`
 * out of `for await` calls) triggers `onConsumerGone`, which the pipeline wires to cancellation.
 *
 * Invariants: events are delivered in push order, each once; after `close()` the consumer drains the buffer and then
 * sees the end; after `fail(error)` it drains the buffer and then gets `error`; pushes after either are ignored.
 */
export class EventChannel<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void }[] = [];
  private ended = false;
  private failure: { error: unknown } | null = null;

  constructor(private readonly onConsumerGone: () => void = () => {}) {}

  push(value: T): void {
    if (this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ value, done: false });
    else this.buffer.push(value);
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    for (const waiter of this.waiting.splice(0)) waiter.resolve({ value: undefined, done: true });
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = { error };
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
    if (this.failure) {
      const { error } = this.failure;
      // Reported once; later calls see the end, as after a generator threw.
      this.failure = null;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.ended) this.onConsumerGone();
    this.ended = true;
    this.failure = null;
    this.buffer.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
