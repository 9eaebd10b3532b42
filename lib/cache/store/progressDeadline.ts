import { StoreUnavailableError } from "@/lib/cache/store/blobStore";

/**
 * The deadline of the commands on one connection, judged by progress rather than by total time: a command fails once
 * it has waited `timeoutMs` while the connection moved no byte either way for `timeoutMs`.
 *
 * Why not a fixed time per command: a stalled server (paused, swapping, stuck) moves nothing and is caught after one
 * deadline, but a 100 MB image takes a second or more to cross loopback into Redis and back, and so does every small
 * command queued behind it on the same connection; as long as bytes keep flowing, the server is working. Bytes being
 * received show as they arrive; bytes being sent do not (Node hands a large buffer to the kernel in one write that
 * completes only at its end), so a command that sends `payloadBytes` adds a quiet period of payloadBytes at
 * MIN_SEND_BYTES_PER_MS during which silence is not yet a stall.
 *
 * Invariants: every tracked promise settles exactly once — with the command's own outcome, or with
 * StoreUnavailableError when the connection stalls, which expires every command pending on it (they are all behind the
 * stalled one) and calls `onStalled` once per stall. The timer runs only while commands are pending.
 */
/** The slowest transfer into the store still taken for progress (20 MB/s; loopback does 200 MB/s on a loaded box). */
const MIN_SEND_BYTES_PER_MS = 20_000;

interface PendingCommand {
  readonly startedAt: number;
  readonly expire: (error: Error) => void;
}

export class ProgressDeadline {
  private readonly pending = new Set<PendingCommand>();
  private progressMark = 0;
  private lastProgressAt = 0;
  /** Until then a silent connection is still sending a tracked command's payload. */
  private quietUntil = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly timeoutMs: number,
    /** Bytes the connection has moved so far (any monotone count; a change is progress). */
    private readonly progress: () => number,
    private readonly onStalled: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** `command`'s outcome, unless the connection stalls first; `payloadBytes`: what the command sends (a value). */
  track<T>(command: Promise<T>, payloadBytes = 0): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: PendingCommand = { startedAt: this.now(), expire: reject };
      if (payloadBytes > 0)
        this.quietUntil = Math.max(this.quietUntil, entry.startedAt) + payloadBytes / MIN_SEND_BYTES_PER_MS;
      if (this.pending.size === 0) {
        this.progressMark = this.progress();
        this.lastProgressAt = entry.startedAt;
        this.timer = setInterval(() => this.check(), Math.max(5, this.timeoutMs / 4));
        this.timer.unref();
      }
      this.pending.add(entry);
      command.then(resolve, reject).finally(() => this.settled(entry));
    });
  }

  /** Looks at the connection's progress; expires everything pending when it stalled. Called by the timer. */
  check(): void {
    const now = this.now();
    const mark = this.progress();
    if (mark !== this.progressMark) {
      this.progressMark = mark;
      this.lastProgressAt = now;
      return;
    }
    if (now - Math.max(this.lastProgressAt, this.quietUntil) < this.timeoutMs) return;
    if (![...this.pending].some((entry) => now - entry.startedAt >= this.timeoutMs)) return;
    const stalled = [...this.pending];
    for (const entry of stalled) this.settled(entry);
    for (const entry of stalled)
      entry.expire(
        new StoreUnavailableError(`no answer from the store within ${this.timeoutMs} ms (STORE_TIMEOUT_MS)`),
      );
    this.onStalled();
  }

  private settled(entry: PendingCommand): void {
    if (!this.pending.delete(entry) || this.pending.size > 0) return;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
