/**
 * A poll loop for the page's background requests (health, metrics, image status): run `tick`, wait the delay it
 * returns, repeat, until stopped. Invariant: at most one tick runs at a time, and none starts after `stop()`;
 * `stop()` aborts the tick in flight through its signal.
 */

export interface Poller {
  stop(): void;
  /** Runs the next tick at once instead of waiting out the current delay (e.g. a "Retry now" button). */
  pollNow(): void;
}

/** `tick` returns the milliseconds to wait before the next tick, or null to end the loop. */
export function startPolling(tick: (signal: AbortSignal) => Promise<number | null>): Poller {
  let stopped = false;
  let running = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let controller: AbortController | null = null;

  async function run(): Promise<void> {
    if (stopped || running) return;
    running = true;
    clearTimeout(timer);
    controller = new AbortController();
    let delay: number | null = null;
    try {
      delay = await tick(controller.signal);
    } finally {
      running = false;
      controller = null;
    }
    if (!stopped && delay !== null) timer = setTimeout(() => void run(), delay);
  }

  void run();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
    },
    pollNow() {
      void run();
    },
  };
}
