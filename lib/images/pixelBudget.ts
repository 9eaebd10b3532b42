/**
 * A budget of pixels being decoded at once, shared by everything in the process that decodes an image (uploads, images
 * sent inside a request, stored images read back). A decode asks for its width × height first (known from the file's
 * header) and gives it back when the decoded buffer has been handed over; while the budget is spent, later decodes
 * wait in arrival order, so memory for decoded pixels stays near `capacity` × 3 bytes however many requests arrive.
 *
 * Invariants: `inUse` ≤ `capacity`; the queue is served first-come first-served (a small decode never overtakes a
 * large one that waits, so the large one cannot starve); a waiter leaves the queue when it times out or its signal
 * aborts, and nothing it asked for is held. A request above `capacity` is refused at once: it could never be served.
 */
export class DecodeBusyError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = "DecodeBusyError";
  }
}

/**
 * Whether `error` is a DecodeBusyError. By name, not instanceof: Next.js gives each bundle its own copy of this module,
 * and the budget (created with the runtime) may throw another copy's class than the one a route imports.
 */
export function isDecodeBusy(error: unknown): error is DecodeBusyError {
  return error instanceof Error && error.name === "DecodeBusyError";
}

interface Waiter {
  readonly pixels: number;
  readonly grant: () => void;
}

export type ReleasePixels = () => void;

export class PixelBudget {
  private inUse = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly capacity: number,
    /** How long a decode may wait for its share before it is refused with DecodeBusyError. */
    private readonly maxWaitMs = 10_000,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get pixelsInUse(): number {
    return this.inUse;
  }

  get waiters(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with the release function once `pixels` are granted; rejects (DecodeBusyError or the abort reason)
   * otherwise.
   */
  acquire(pixels: number, signal?: AbortSignal): Promise<ReleasePixels> {
    if (pixels > this.capacity) {
      return Promise.reject(
        new RangeError(`an image of ${pixels} pixels exceeds the decode budget of ${this.capacity}`),
      );
    }
    signal?.throwIfAborted();
    if (this.waiting.length === 0 && this.inUse + pixels <= this.capacity) return Promise.resolve(this.grant(pixels));
    return new Promise<ReleasePixels>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
      };
      const waiter: Waiter = {
        pixels,
        grant: () => {
          leave();
          resolve(this.grant(pixels));
        },
      };
      const timer = setTimeout(() => {
        leave();
        this.serveWaiting();
        reject(
          new DecodeBusyError(
            `the server is decoding too many images right now; retry in a few seconds`,
            Math.ceil(this.maxWaitMs / 1000),
          ),
        );
      }, this.maxWaitMs);
      const onAbort = () => {
        leave();
        this.serveWaiting();
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private grant(pixels: number): ReleasePixels {
    this.inUse += pixels;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse -= pixels;
      this.serveWaiting();
    };
  }

  private serveWaiting(): void {
    while (this.waiting.length > 0 && this.inUse + this.waiting[0].pixels <= this.capacity) this.waiting[0].grant();
  }

  /** Runs `decode` holding `pixels` of the budget. */
  async use<T>(pixels: number, decode: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(pixels, signal);
    try {
      return await decode();
    } finally {
      release();
    }
  }
}
