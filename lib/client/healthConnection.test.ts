import { describe, expect, it } from "vitest";
import type { HealthResponse } from "@/lib/api/types";
import { applyHealthPoll, nextPollDelayMs, type Connection } from "./healthConnection";

const health = (startedAt: number): HealthResponse => ({
  status: "ok",
  startedAt,
  model: { name: "qwen3-vl-tiny-random", isRandomTestModel: true, executionProvider: "cpu" },
  redis: { mode: "embedded", healthy: true },
});

describe("applyHealthPoll", () => {
  it("goes up on the first successful poll without a notice", () => {
    expect(applyHealthPoll({ state: "connecting" }, { ok: true, health: health(1) }, 0)).toEqual({
      connection: { state: "up", health: health(1) },
      notice: null,
    });
  });

  it("goes down on a failure, remembering when and the last health seen", () => {
    const up: Connection = { state: "up", health: health(1) };
    expect(applyHealthPoll(up, { ok: false, reason: "fetch failed", answered: false }, 5_000)).toEqual({
      connection: {
        state: "down",
        failures: 1,
        downSince: 5_000,
        reason: "fetch failed",
        answered: false,
        lastHealth: health(1),
      },
      notice: null,
    });
  });

  it("counts consecutive failures and keeps the time it went down", () => {
    const down: Connection = {
      state: "down",
      failures: 2,
      downSince: 5_000,
      reason: "a",
      answered: false,
      lastHealth: null,
    };
    expect(applyHealthPoll(down, { ok: false, reason: "b", answered: true }, 9_000).connection).toEqual({
      state: "down",
      failures: 3,
      downSince: 5_000,
      reason: "b",
      answered: true,
      lastHealth: null,
    });
  });

  it("says reconnected when the same process answers again", () => {
    const down: Connection = {
      state: "down",
      failures: 4,
      downSince: 0,
      reason: "x",
      answered: false,
      lastHealth: health(1),
    };
    expect(applyHealthPoll(down, { ok: true, health: health(1) }, 1).notice).toBe("reconnected");
  });

  it("says restarted when a new process answers, whether or not a failure was seen", () => {
    const down: Connection = {
      state: "down",
      failures: 1,
      downSince: 0,
      reason: "x",
      answered: false,
      lastHealth: health(1),
    };
    expect(applyHealthPoll(down, { ok: true, health: health(2) }, 1).notice).toBe("restarted");
    expect(applyHealthPoll({ state: "up", health: health(1) }, { ok: true, health: health(2) }, 1).notice).toBe(
      "restarted",
    );
  });
});

describe("nextPollDelayMs", () => {
  it("polls every 10 s while up and retries after 1 s while connecting", () => {
    expect(nextPollDelayMs({ state: "up", health: health(1) })).toBe(10_000);
    expect(nextPollDelayMs({ state: "connecting" })).toBe(1_000);
  });

  it("backs off exponentially while down, capped at 15 s", () => {
    const delays = [1, 2, 3, 4, 5, 6, 10].map((failures) =>
      nextPollDelayMs({ state: "down", failures, downSince: 0, reason: "", answered: false, lastHealth: null }),
    );
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]);
  });
});
