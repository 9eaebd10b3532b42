import { describe, expect, it } from "vitest";
import { metricsRegistry } from "@/lib/metrics/registry";
import { QueueFullError } from "./errors";
import { GenerationScheduler, type Slot, type SlotOutcome } from "./scheduler";

/** Outcome of a slot if it is already settled, else "pending" (after letting queued promise callbacks run). */
async function state(slot: Slot): Promise<SlotOutcome | "pending"> {
  const pending = Symbol("pending");
  const result = await Promise.race([
    slot.outcome,
    new Promise<typeof pending>((resolve) => setImmediate(() => resolve(pending))),
  ]);
  return result === pending ? "pending" : result;
}

async function queueGauge(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric("vlcache_queue_length")?.get();
  return metric?.values[0]?.value ?? 0;
}

describe("GenerationScheduler", () => {
  it("runs one at a time by default and starts waiting requests in admission order", async () => {
    const scheduler = new GenerationScheduler();
    const started: number[] = [];
    const slots = Array.from({ length: 4 }, (_, i) => {
      const slot = scheduler.admit();
      void slot.outcome.then(() => started.push(i));
      return slot;
    });
    expect(slots.map((s) => s.queuedBehind)).toEqual([0, 1, 2, 3]);
    await state(slots[0]);
    expect(started).toEqual([0]);
    expect([scheduler.running, scheduler.queueLength]).toEqual([1, 3]);
    for (const slot of slots) {
      slot.release();
      await state(slots[3]);
    }
    expect(started).toEqual([0, 1, 2, 3]);
    expect([scheduler.running, scheduler.queueLength]).toEqual([0, 0]);
  });

  it("runs up to `concurrency` requests at once", async () => {
    const scheduler = new GenerationScheduler({ concurrency: 2 });
    const [a, b, c] = [scheduler.admit(), scheduler.admit(), scheduler.admit()];
    expect([await state(a), await state(b), await state(c)]).toEqual(["granted", "granted", "pending"]);
    b.release();
    expect(await state(c)).toBe("granted");
    expect(scheduler.running).toBe(2);
  });

  it("refuses past maxQueued with a QueueFullError carrying a retry hint, and changes nothing", async () => {
    const scheduler = new GenerationScheduler({ maxQueued: 2 });
    const running = scheduler.admit();
    scheduler.admit();
    scheduler.admit();
    let refusal: unknown;
    try {
      scheduler.admit();
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(QueueFullError);
    const full = refusal as QueueFullError;
    expect(full.code).toBe("queue_full");
    expect(full.fault).toBe("server");
    expect(full.queueLength).toBe(2);
    // 3 runs ahead (1 running + 2 waiting) at the initial 2 s estimate each, one at a time.
    expect(full.retryAfterSeconds).toBe(6);
    expect([scheduler.running, scheduler.queueLength]).toEqual([1, 2]);
    running.release();
    expect(() => scheduler.admit()).not.toThrow();
  });

  it("bases the retry hint on measured run times", () => {
    let now = 0;
    const scheduler = new GenerationScheduler({ maxQueued: 0, clock: () => now });
    for (let i = 0; i < 40; i++) {
      const slot = scheduler.admit();
      now += 10_000;
      slot.release();
    }
    scheduler.admit();
    expect(() => scheduler.admit()).toThrow(QueueFullError);
    // Mean run time has converged to 10 s; one run ahead.
    expect(scheduler.retryAfterSeconds()).toBe(10);
  });

  it("takes a cancelled request out of the queue at once, so the ones behind it move up", async () => {
    const scheduler = new GenerationScheduler();
    const running = scheduler.admit();
    const controller = new AbortController();
    const cancelled = scheduler.admit(controller.signal);
    const behind = scheduler.admit();
    controller.abort();
    expect(await state(cancelled)).toBe("cancelled");
    expect(scheduler.queueLength).toBe(1);
    running.release();
    expect(await state(behind)).toBe("granted");
    cancelled.release();
    expect(scheduler.running).toBe(1);
  });

  it("cancels at once a request whose signal is already aborted", async () => {
    const scheduler = new GenerationScheduler();
    const slot = scheduler.admit(AbortSignal.abort());
    expect(await state(slot)).toBe("cancelled");
    expect([scheduler.running, scheduler.queueLength]).toEqual([0, 0]);
  });

  it("ignores an abort after the slot started (its owner releases it) and repeated releases", async () => {
    const scheduler = new GenerationScheduler();
    const controller = new AbortController();
    const first = scheduler.admit();
    const second = scheduler.admit(controller.signal);
    first.release();
    expect(await state(second)).toBe("granted");
    controller.abort();
    expect(scheduler.running).toBe(1);
    second.release();
    second.release();
    expect(scheduler.running).toBe(0);
  });

  it("keeps vlcache_queue_length equal to the requests waiting", async () => {
    const before = await queueGauge();
    const scheduler = new GenerationScheduler();
    const slots = [scheduler.admit(), scheduler.admit(), scheduler.admit()];
    expect(await queueGauge()).toBe(before + 2);
    slots[2].release();
    expect(await queueGauge()).toBe(before + 1);
    slots[0].release();
    expect(await queueGauge()).toBe(before);
    slots[1].release();
    expect(await queueGauge()).toBe(before);
  });
});
