import { describe, expect, it } from "vitest";
import { SingleFlight } from "@/lib/cache/singleFlight";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("SingleFlight", () => {
  it("runs the work once for concurrent callers of one key and gives them all its result", async () => {
    const flights = new SingleFlight<string, number>();
    const gate = deferred<number>();
    let runs = 0;
    const work = () => {
      runs += 1;
      return gate.promise;
    };
    const callers = [flights.run("img", work), flights.run("img", work), flights.run("img", work)];
    expect(flights.has("img")).toBe(true);
    expect(flights.size).toBe(1);
    gate.resolve(7);
    expect(await Promise.all(callers)).toEqual([7, 7, 7]);
    expect(runs).toBe(1);
    expect(flights.has("img")).toBe(false);
  });

  it("runs different keys independently", async () => {
    const flights = new SingleFlight<string, string>();
    const results = await Promise.all([flights.run("a", async () => "A"), flights.run("b", async () => "B")]);
    expect(results).toEqual(["A", "B"]);
  });

  it("hands a failure to every caller, then releases the key so the next call starts fresh", async () => {
    const flights = new SingleFlight<string, number>();
    const gate = deferred<number>();
    const first = flights.run("img", () => gate.promise);
    const second = flights.run("img", () => Promise.resolve(99));
    gate.reject(new Error("encoder crashed"));
    await expect(first).rejects.toThrow("encoder crashed");
    await expect(second).rejects.toThrow("encoder crashed");
    expect(flights.has("img")).toBe(false);
    await expect(flights.run("img", async () => 5)).resolves.toBe(5);
  });

  it("treats a synchronous throw as a failed flight and releases the key", async () => {
    const flights = new SingleFlight<string, number>();
    const failing = flights.run("img", () => {
      throw new Error("bad input");
    });
    await expect(failing).rejects.toThrow("bad input");
    expect(flights.size).toBe(0);
    await expect(flights.run("img", async () => 1)).resolves.toBe(1);
  });

  it("has released the key by the time a caller resumes, so it can start a new flight", async () => {
    const flights = new SingleFlight<string, number>();
    let runs = 0;
    const value = await flights.run("img", async () => ++runs);
    expect(flights.has("img")).toBe(false);
    expect(await flights.run("img", async () => ++runs)).toBe(value + 1);
  });
});
