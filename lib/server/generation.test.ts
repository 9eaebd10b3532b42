import { describe, expect, it } from "vitest";
import type { ImageId } from "@/lib/ids";
import type { DoneEvent } from "@/lib/inference/events";
import { wireCache, wireDone } from "./generation";

const timings = {
  queueMs: 1,
  preprocessMs: 2,
  visionMs: 3,
  prefillMs: 4,
  ttftMs: 20,
  totalMs: 50,
  decodeTokensPerSecond: 80,
};
const done = (overrides: Partial<DoneEvent> = {}): DoneEvent => ({
  type: "done",
  finishReason: "stop",
  usage: { promptTokens: 30, completionTokens: 4 },
  timings,
  tokenIds: [1, 2, 3, 4],
  seed: null,
  ...overrides,
});

describe("wire events", () => {
  it("reports usage and the three public timings of a finished generation", () => {
    expect(wireDone(done())).toEqual({
      usage: { promptTokens: 30, completionTokens: 4 },
      timings: { ttftMs: 20, totalMs: 50, tokensPerSecond: 80 },
    });
  });

  it("reports the total time as TTFT when nothing was generated", () => {
    expect(wireDone(done({ timings: { ...timings, ttftMs: null } })).timings.ttftMs).toBe(50);
  });

  it("copies the cache report into the meta event's shape", () => {
    const report = {
      features: [{ imageId: "a".repeat(64) as ImageId, source: "l1" as const }],
      prefix: { reused: 5, total: 9 },
      response: "miss" as const,
    };
    const wired = wireCache(report);
    expect(wired).toEqual(report);
    expect(wired.features).not.toBe(report.features);
  });
});
