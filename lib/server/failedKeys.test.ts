import { describe, expect, it } from "vitest";
import { FailedKeyThrottle } from "./failedKeys";

describe("FailedKeyThrottle", () => {
  it("admits keys from an address until it has presented perMinute wrong ones, then refuses until one is earned back", () => {
    const throttle = new FailedKeyThrottle(6); // one wrong key back every 10 s
    for (let i = 0; i < 6; i++) {
      expect(throttle.admits("10.0.0.1", 0)).toEqual({ allowed: true });
      throttle.recordRefusal("10.0.0.1", 0);
    }
    expect(throttle.admits("10.0.0.1", 0)).toEqual({ allowed: false, retryAfterSeconds: 10 });
    // Being refused unchecked counts nothing more: the wait does not grow.
    expect(throttle.admits("10.0.0.1", 4_000)).toEqual({ allowed: false, retryAfterSeconds: 6 });
    expect(throttle.admits("10.0.0.1", 10_000)).toEqual({ allowed: true });
    throttle.recordRefusal("10.0.0.1", 10_000);
    expect(throttle.admits("10.0.0.1", 10_000)).toEqual({ allowed: false, retryAfterSeconds: 10 });
  });

  it("counts per address: one address's wrong keys do not hold back another's", () => {
    const throttle = new FailedKeyThrottle(2);
    throttle.recordRefusal("10.0.0.1", 0);
    throttle.recordRefusal("10.0.0.1", 0);
    expect(throttle.admits("10.0.0.1", 0).allowed).toBe(false);
    expect(throttle.admits("10.0.0.2", 0)).toEqual({ allowed: true });
  });

  it("is off with 0: any number of wrong keys is checked", () => {
    const throttle = new FailedKeyThrottle(0);
    for (let i = 0; i < 1000; i++) throttle.recordRefusal("10.0.0.1", 0);
    expect(throttle.admits("10.0.0.1", 0)).toEqual({ allowed: true });
  });
});
