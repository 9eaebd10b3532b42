import type { CheckRow } from "./types";

/** The parity table, plain text with aligned columns, followed by the rows' notes. Pure. */
export function formatParityTable(rows: readonly CheckRow[]): string {
  const header = ["check", "metric", "value", "threshold", "pass"];
  const cells = rows.map((r) => [
    r.check,
    r.metric,
    r.value,
    r.threshold,
    r.pass === null ? "n/a" : r.pass ? "yes" : "NO",
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]) =>
    row
      .map((cell, c) => cell.padEnd(widths[c]))
      .join("  ")
      .trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)];
  const notes = rows.filter((r) => r.note !== undefined).map((r) => `  note: ${r.note}`);
  return [...out, ...notes].join("\n");
}

/** A run passes when at least one row was checked and none failed (n/a rows neither pass nor fail). */
export function parityPassed(rows: readonly CheckRow[]): boolean {
  return rows.some((r) => r.pass === true) && rows.every((r) => r.pass !== false);
}
