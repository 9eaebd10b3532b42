/**
 * In-process single flight: while work for a key is running, every other caller of that key joins it instead of
 * starting its own — so one process never encodes the same image twice at once. (Across processes the L1 lock key in
 * Redis plays this role; that is wiring, not this module.)
 *
 * Lifecycle of a key: absent → in flight (the first caller's `work` runs; later callers get the same promise) → absent
 * again the moment the work settles, before any caller's continuation runs. A failure reaches every caller of that
 * flight and is not remembered: the next call starts fresh work. Success is not remembered either; caching results is
 * the caller's business (L1).
 */
export class SingleFlight<K, T> {
  private readonly flights = new Map<K, Promise<T>>();

  /** Number of keys with work in flight. */
  get size(): number {
    return this.flights.size;
  }

  /** Whether a call to `run(key, …)` now would join running work rather than start it. */
  has(key: K): boolean {
    return this.flights.has(key);
  }

  run(key: K, work: () => Promise<T>): Promise<T> {
    const running = this.flights.get(key);
    if (running !== undefined) return running;
    let started: Promise<T>;
    try {
      started = Promise.resolve(work());
    } catch (error) {
      // A synchronous throw is a failed flight like any other: reported through the promise, key released.
      started = Promise.reject(error);
    }
    const flight = started.finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }
}
