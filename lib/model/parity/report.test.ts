import { describe, expect, it } from "vitest";
import { formatParityTable, parityPassed } from "./report";
import type { CheckRow } from "./types";

const rows: CheckRow[] = [
  { check: "vision features", metric: "max |Δ|", value: "3.10e-6", threshold: "≤ 1e-4", pass: true },
  { check: "vision deepstack", metric: "max |Δ|", value: "n/a", threshold: "≤ 1e-4", pass: null },
  {
    check: "greedy turn2",
    metric: "tokens",
    value: "7/24",
    threshold: "identical",
    pass: false,
    note: "greedy turn2: step 7 gave 5, reference 9",
  },
];

describe("parity report", () => {
  it("aligns columns and lists notes under the table", () => {
    expect(formatParityTable(rows).split("\n")).toEqual([
      "check             metric   value    threshold  pass",
      "----------------  -------  -------  ---------  ----",
      "vision features   max |Δ|  3.10e-6  ≤ 1e-4     yes",
      "vision deepstack  max |Δ|  n/a      ≤ 1e-4     n/a",
      "greedy turn2      tokens   7/24     identical  NO",
      "  note: greedy turn2: step 7 gave 5, reference 9",
    ]);
  });

  it("passes only with no failure and at least one real check", () => {
    expect(parityPassed(rows)).toBe(false);
    expect(parityPassed(rows.slice(0, 2))).toBe(true);
    expect(parityPassed(rows.slice(1, 2))).toBe(false);
  });
});
