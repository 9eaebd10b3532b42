/**
 * Number formatting for badges, chips and charts. Fixed to en-US so the page reads the same on every machine
 * (and tests can state exact strings).
 */

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 1234 → "1,234". */
export function formatCount(value: number): string {
  return integer.format(value);
}

/** Milliseconds as "85 ms" below a second, "1.24 s" below ten seconds, "12.3 s" above. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(1)} s`;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Binary units: 512 → "512 B", 1536 → "1.5 KiB", 5·2^20 → "5.0 MiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** A ratio in [0, 1] as a whole percentage: 0.456 → "46%". */
export function formatPercent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/** Generation speed: 23.44 → "23.4 tok/s". */
export function formatTokensPerSecond(rate: number): string {
  return `${rate.toFixed(1)} tok/s`;
}
