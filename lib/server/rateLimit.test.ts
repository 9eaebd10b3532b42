import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rateLimit";

describe("RateLimiter", () => {
  it("lets a burst through, then refuses with the seconds until the next token", () => {
    const limiter = new RateLimiter({ perMinute: 6, burst: 3 }); // one token per 10 s
    expect([0, 0, 0].map((t) => limiter.take("a", t).allowed)).toEqual([true, true, true]);
    expect(limiter.take("a", 0)).toEqual({ allowed: false, retryAfterSeconds: 10 });
    expect(limiter.take("a", 4_000)).toEqual({ allowed: false, retryAfterSeconds: 6 });
    expect(limiter.take("a", 9_999)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take("a", 10_000)).toEqual({ allowed: true });
    expect(limiter.take("a", 10_000)).toEqual({ allowed: false, retryAfterSeconds: 10 });
  });

  it("keeps one bucket per client", () => {
    const limiter = new RateLimiter({ perMinute: 60, burst: 1 });
    expect(limiter.take("a", 0).allowed).toBe(true);
    expect(limiter.take("a", 0).allowed).toBe(false);
    expect(limiter.take("b", 0).allowed).toBe(true);
  });

  it("refills up to the burst size, not beyond", () => {
    const limiter = new RateLimiter({ perMinute: 60, burst: 2 });
    limiter.take("a", 0);
    limiter.take("a", 0);
    const afterAnHour = 3_600_000;
    expect([0, 0, 0].map(() => limiter.take("a", afterAnHour).allowed)).toEqual([true, true, false]);
  });

  it("refused requests take nothing: the retry hint holds", () => {
    const limiter = new RateLimiter({ perMinute: 30, burst: 1 }); // one token per 2 s
    limiter.take("a", 0);
    for (let i = 0; i < 5; i++) expect(limiter.take("a", 500)).toEqual({ allowed: false, retryAfterSeconds: 2 });
    expect(limiter.take("a", 2_000).allowed).toBe(true);
  });

  it("peek says what take would, taking nothing", () => {
    const limiter = new RateLimiter({ perMinute: 6, burst: 1 }); // one token per 10 s
    expect(limiter.peek("a", 0)).toEqual({ allowed: true });
    expect(limiter.trackedClients).toBe(0);
    limiter.take("a", 0);
    for (let i = 0; i < 3; i++) expect(limiter.peek("a", 4_000)).toEqual({ allowed: false, retryAfterSeconds: 6 });
    expect(limiter.peek("a", 10_000)).toEqual({ allowed: true });
    expect(limiter.take("a", 10_000)).toEqual({ allowed: true });
    expect(limiter.peek("b", 10_000)).toEqual({ allowed: true });
    expect(new RateLimiter({ perMinute: 0, burst: 1 }).peek("a", 0)).toEqual({ allowed: true });
  });

  it("gives no tokens when the clock steps back", () => {
    const limiter = new RateLimiter({ perMinute: 60, burst: 1 });
    limiter.take("a", 10_000);
    expect(limiter.take("a", 5_000)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take("a", 10_999).allowed).toBe(false);
    expect(limiter.take("a", 11_000).allowed).toBe(true);
  });

  it("is off with perMinute 0", () => {
    const limiter = new RateLimiter({ perMinute: 0, burst: 1 });
    expect(limiter.enabled).toBe(false);
    expect(Array.from({ length: 100 }, () => limiter.take("a", 0).allowed).every(Boolean)).toBe(true);
    expect(limiter.trackedClients).toBe(0);
  });

  it("forgets clients whose bucket has refilled", () => {
    const limiter = new RateLimiter({ perMinute: 60, burst: 1 });
    for (let i = 0; i < 1000; i++) limiter.take(`client-${i}`, 0);
    expect(limiter.trackedClients).toBe(1000);
    for (let i = 0; i < 24; i++) limiter.take("late", 60_000 + i * 1_000);
    // The sweep on the 1024th take found every early bucket full again; only the busy client remains.
    expect(limiter.trackedClients).toBe(1);
  });

  it("refuses settings that make no bucket", () => {
    expect(() => new RateLimiter({ perMinute: -1, burst: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ perMinute: 1, burst: 0 })).toThrow(RangeError);
  });
});
