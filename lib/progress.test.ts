import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createProgress, formatBytes, formatDuration, progressLine } from "./progress";

describe("progress formatting", () => {
  it("formats sizes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.50 KB");
    expect(formatBytes(25 * 1024 * 1024)).toBe("25.0 MB");
    expect(formatBytes(4.5 * 1024 ** 3)).toBe("4.50 GB");
  });

  it("formats durations", () => {
    expect(formatDuration(4_400)).toBe("4s");
    expect(formatDuration(125_000)).toBe("2m05s");
    expect(formatDuration(3_726_000)).toBe("1h02m");
  });

  it("extrapolates the ETA from the average rate", () => {
    expect(progressLine("convert", 250, 1000, 10_000, String)).toBe("convert: 25% (250 / 1000), ETA 30s");
    expect(progressLine("convert", 0, 1000, 10_000, String)).toBe("convert: 0% (0 / 1000), ETA ?");
  });
});

describe("plain-line progress", () => {
  it("throttles lines and always reports completion", () => {
    const stream = new PassThrough() as unknown as NodeJS.WriteStream;
    let written = "";
    (stream as unknown as PassThrough).on("data", (chunk: Buffer) => (written += chunk.toString()));
    const progress = createProgress("weights", 2048, { interactive: false, intervalMs: 60_000, stream });
    progress.update(1024);
    progress.update(2048);
    progress.finish();
    const lines = written.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^weights: done, 2\.00 KB in \d+s$/);
  });
});
