import { describe, expect, it } from "vitest";
import { ProgressDeadline } from "./progressDeadline";

/** A deadline over a fake clock and byte counter; `check()` is called by hand (the real timer sees the same state). */
function harness(timeoutMs = 1_000) {
  const state = { now: 0, bytes: 0, stalls: 0 };
  const deadline = new ProgressDeadline(
    timeoutMs,
    () => state.bytes,
    () => (state.stalls += 1),
    () => state.now,
  );
  return { state, deadline };
}

/** A command that settles when told to. */
function command<T>() {
  let settle!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (settle = resolve));
  return { promise, settle };
}

describe("ProgressDeadline", () => {
  it("expires every pending command once one has waited the deadline while no byte moved", async () => {
    const { state, deadline } = harness();
    const first = deadline.track(command<string>().promise);
    state.now = 400;
    const second = deadline.track(command<string>().promise);
    state.now = 999;
    deadline.check();
    expect(state.stalls).toBe(0);
    state.now = 1_000;
    deadline.check();
    expect(state.stalls).toBe(1);
    await expect(first).rejects.toMatchObject({ name: "StoreUnavailableError" });
    await expect(second).rejects.toMatchObject({ name: "StoreUnavailableError" });
  });

  it("lets a long command run while bytes keep moving, and gives it the deadline again once they stop", async () => {
    const { state, deadline } = harness();
    const big = command<string>();
    const tracked = deadline.track(big.promise);
    for (let t = 500; t <= 5_000; t += 500) {
      state.now = t;
      state.bytes += 1 << 20;
      deadline.check();
    }
    expect(state.stalls).toBe(0);
    state.now = 5_900;
    deadline.check();
    expect(state.stalls).toBe(0);
    big.settle("done");
    await expect(tracked).resolves.toBe("done");
    // Settled commands are no longer pending: a later stall has nothing to expire.
    state.now = 20_000;
    deadline.check();
    expect(state.stalls).toBe(0);
  });

  it("gives a command that sends a large value time to send it, at 20 MB/s, before silence counts as a stall", async () => {
    const { state, deadline } = harness();
    const tracked = deadline.track(command<string>().promise, 100_000_000);
    state.now = 5_999;
    deadline.check();
    expect(state.stalls).toBe(0);
    state.now = 6_000;
    deadline.check();
    expect(state.stalls).toBe(1);
    await expect(tracked).rejects.toMatchObject({ name: "StoreUnavailableError" });
  });

  it("keeps a command's own outcome, failures included", async () => {
    const { deadline } = harness();
    await expect(deadline.track(Promise.resolve(7))).resolves.toBe(7);
    await expect(deadline.track(Promise.reject(new Error("WRONGTYPE")))).rejects.toThrow("WRONGTYPE");
  });
});
