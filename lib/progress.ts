/**
 * Progress for long CLI work (conversion, checkpoint generation, parity). On an interactive terminal a cli-progress
 * bar; otherwise (piped output, CI=true) a plain line at most every `intervalMs`, plus one when the phase finishes, so
 * logs stay readable.
 */

import cliProgress from "cli-progress";

export interface Progress {
  /** Absolute amount done so far (bytes or items). */
  update(done: number): void;
  finish(): void;
}

export interface ProgressOptions {
  unit?: "bytes" | "items";
  /** Plain-line mode only: minimum time between lines. */
  intervalMs?: number;
  stream?: NodeJS.WriteStream;
  /** Force plain lines (tests, CI) or a bar; default: a bar only on a TTY without CI=true. */
  interactive?: boolean;
}

export function createProgress(label: string, total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const unit = opts.unit ?? "bytes";
  const interactive = opts.interactive ?? (stream.isTTY === true && process.env.CI !== "true");
  const startedAt = Date.now();
  const format = (n: number) => (unit === "bytes" ? formatBytes(n) : String(n));

  if (interactive) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% | {doneText} / {totalText} | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { doneText: format(0), totalText: format(total) });
    return {
      update: (done) => bar.update(done, { doneText: format(done) }),
      finish: () => {
        bar.update(total, { doneText: format(total) });
        bar.stop();
      },
    };
  }

  const intervalMs = opts.intervalMs ?? 5000;
  let lastLineAt = startedAt;
  const line = (done: number) => {
    const elapsed = Date.now() - startedAt;
    stream.write(`${progressLine(label, done, total, elapsed, format)}\n`);
  };
  return {
    update: (done) => {
      if (Date.now() - lastLineAt >= intervalMs) {
        lastLineAt = Date.now();
        line(done);
      }
    },
    finish: () => stream.write(`${label}: done, ${format(total)} in ${formatDuration(Date.now() - startedAt)}\n`),
  };
}

/** `label: 42% (1.2 GB / 2.9 GB), ETA 31s` — the ETA extrapolates the average rate so far. */
export function progressLine(
  label: string,
  done: number,
  total: number,
  elapsedMs: number,
  format: (n: number) => string,
): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const eta = done > 0 ? formatDuration((elapsedMs * (total - done)) / done) : "?";
  return `${label}: ${Math.floor(fraction * 100)}% (${format(done)} / ${format(total)}), ETA ${eta}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
