import { describe, expect, it } from "vitest";
import { DecodeBusyError, PixelBudget } from "./pixelBudget";

describe("PixelBudget", () => {
  it("grants while there is room and makes later decodes wait, first come first served", async () => {
    const budget = new PixelBudget(100);
    const first = await budget.acquire(60);
    const order: string[] = [];
    const large = budget.acquire(70).then((release) => (order.push("large"), release));
    const small = budget.acquire(10).then((release) => (order.push("small"), release));
    await new Promise((resolve) => setTimeout(resolve, 10));
    // 10 would fit beside 60, but the 70 that came first waits, so the small one waits behind it.
    expect(order).toEqual([]);
    expect(budget.waiters).toBe(2);
    first();
    first();
    const releases = await Promise.all([large, small]);
    expect(order).toEqual(["large", "small"]);
    expect(budget.pixelsInUse).toBe(80);
    for (const release of releases) release();
    expect(budget.pixelsInUse).toBe(0);
  });

  it("refuses a decode larger than the budget at once, and one that waited too long with DecodeBusyError", async () => {
    const budget = new PixelBudget(100, 20);
    await expect(budget.acquire(101)).rejects.toThrow(RangeError);
    const held = await budget.acquire(100);
    await expect(budget.acquire(1)).rejects.toEqual(expect.any(DecodeBusyError));
    expect(budget.waiters).toBe(0);
    held();
    expect(budget.pixelsInUse).toBe(0);
  });

  it("lets an aborted waiter go without holding anything, and serves the next one", async () => {
    const budget = new PixelBudget(100);
    const held = await budget.acquire(100);
    const controller = new AbortController();
    const aborted = budget.acquire(50, controller.signal);
    const next = budget.acquire(50);
    controller.abort(new Error("client gone"));
    await expect(aborted).rejects.toThrow("client gone");
    held();
    (await next)();
    expect(budget.pixelsInUse).toBe(0);
    expect(budget.waiters).toBe(0);
  });

  it("releases what `use` held even when the decode fails", async () => {
    const budget = new PixelBudget(10);
    await expect(budget.use(10, async () => Promise.reject(new Error("corrupt")))).rejects.toThrow("corrupt");
    expect(await budget.use(10, async () => budget.pixelsInUse)).toBe(10);
    expect(budget.pixelsInUse).toBe(0);
  });
});
