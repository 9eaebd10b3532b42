import { describe, expect, it } from "vitest";
import { startPolling } from "./polling";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("startPolling", () => {
  it("runs ticks with the delays they return until one returns null", async () => {
    const ticks: number[] = [];
    const started = Date.now();
    startPolling(async () => {
      ticks.push(Date.now() - started);
      return ticks.length < 3 ? 20 : null;
    });
    await sleep(150);
    expect(ticks).toHaveLength(3);
    expect(ticks[1]).toBeGreaterThanOrEqual(18);
    expect(ticks[2] - ticks[1]).toBeGreaterThanOrEqual(18);
  });

  it("stops: aborts the tick in flight and schedules nothing more", async () => {
    let calls = 0;
    let abortedSignal: AbortSignal | null = null;
    const poller = startPolling(async (signal) => {
      calls++;
      abortedSignal = signal;
      await sleep(30);
      return 5;
    });
    await sleep(10);
    poller.stop();
    await sleep(80);
    expect(calls).toBe(1);
    expect(abortedSignal!.aborted).toBe(true);
  });

  it("polls at once on request, never running two ticks together", async () => {
    let calls = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const poller = startPolling(async () => {
      calls++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await sleep(5);
      concurrent--;
      return 10_000;
    });
    poller.pollNow();
    await sleep(20);
    expect(calls).toBe(1);
    poller.pollNow();
    await sleep(20);
    expect(calls).toBe(2);
    expect(maxConcurrent).toBe(1);
    poller.stop();
  });
});
