import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

/** The convert CLI's argument handling: usage errors exit 2 with a message and the usage text, before any work. */

function runCli(args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/convert.ts", ...args], { encoding: "utf8" });
  return { status: result.status, stderr: result.stderr };
}

describe("scripts/convert.ts", () => {
  it.each([
    [["--random", "tiny"], /--out DIR is required/],
    [["--from", "a", "--random", "tiny", "--out", "x"], /exactly one of --from DIR or --random PRESET/],
    [["--random", "tiny", "--out", "x", "--dtype", "bf16"], /--dtype must be fp32 or fp16/],
    [["--random", "tiny", "--out", "x", "--seed", "-3"], /seed/i],
    [["--from", "a", "--out", "x", "--checkpoint-out", "c"], /--checkpoint-out only applies to --random/],
    [["--random", "tiny", "--out", "x", "--min-pixels", "4096"], /both --min-pixels and --max-pixels/],
    [
      ["--random", "tiny", "--out", "x", "--min-pixels", "9000", "--max-pixels", "4096"],
      /--min-pixels must not exceed --max-pixels/,
    ],
    [["--from", "a", "--out", "x", "--min-pixels", "1", "--max-pixels", "2"], /only apply to --random/],
    [["--bogus"], /Unknown option '--bogus'/],
  ])("rejects %j", (args, message) => {
    const { status, stderr } = runCli(args);
    expect(status).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toContain("usage: npm run convert");
  });

  it("names a missing checkpoint folder and exits 1", () => {
    const { status, stderr } = runCli(["--from", "/nonexistent/checkpoint", "--out", "/tmp/vlcache-never"]);
    expect(status).toBe(1);
    expect(stderr).toContain("convert: checkpoint folder /nonexistent/checkpoint does not exist");
  });
});
