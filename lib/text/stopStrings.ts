export interface StopMatch {
  /** Text safe to emit now. */
  text: string;
  /** True once a stop string has been seen; `text` then ends right before it and nothing more is ever emitted. */
  stopped: boolean;
}

/**
 * Watches streamed text for stop strings. A stop string may arrive split across pieces, so any tail that could be
 * the start of one is held back until it is either completed (→ stop; the stop string and everything after it are
 * dropped) or ruled out (→ released). When several stop strings occur, the earliest position wins.
 */
export class StopStringMatcher {
  private held = "";
  private stopped = false;
  private readonly stops: string[];

  constructor(stopStrings: readonly string[]) {
    this.stops = stopStrings.filter((s) => s.length > 0);
  }

  push(piece: string): StopMatch {
    if (this.stopped) return { text: "", stopped: true };
    const buffer = this.held + piece;
    let stopAt = -1;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at !== -1 && (stopAt === -1 || at < stopAt)) stopAt = at;
    }
    if (stopAt !== -1) {
      this.stopped = true;
      this.held = "";
      return { text: buffer.slice(0, stopAt), stopped: true };
    }
    const keep = this.longestPartialStop(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** Releases held text when generation ends for another reason (EOS, token limit). */
  flush(): string {
    const rest = this.stopped ? "" : this.held;
    this.held = "";
    return rest;
  }

  get hasStopped(): boolean {
    return this.stopped;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private longestPartialStop(buffer: string): number {
    let best = 0;
    for (const stop of this.stops) {
      for (let len = Math.min(stop.length - 1, buffer.length); len > best; len--) {
        if (buffer.endsWith(stop.slice(0, len))) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}
