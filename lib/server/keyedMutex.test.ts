import { describe, expect, it } from "vitest";
import { KeyedMutex } from "./keyedMutex";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("KeyedMutex", () => {
  it("runs holders of one key one at a time, in arrival order", async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const run = async (name: string) => {
      const release = await mutex.acquire("s");
      order.push(`${name} start`);
      await tick();
      order.push(`${name} end`);
      release();
    };
    await Promise.all([run("a"), run("b"), run("c")]);
    expect(order).toEqual(["a start", "a end", "b start", "b end", "c start", "c end"]);
    expect(mutex.size).toBe(0);
  });

  it("does not hold back other keys", async () => {
    const mutex = new KeyedMutex();
    const releaseA = await mutex.acquire("a");
    const releaseB = await mutex.acquire("b");
    expect(mutex.size).toBe(2);
    releaseA();
    releaseB();
    expect(mutex.size).toBe(0);
  });

  it("lets the next waiter in only when released, and ignores a second release", async () => {
    const mutex = new KeyedMutex();
    const release = await mutex.acquire("s");
    let secondIn = false;
    const second = mutex.acquire("s").then((r) => {
      secondIn = true;
      return r;
    });
    await tick();
    expect(secondIn).toBe(false);
    release();
    release();
    const releaseSecond = await second;
    expect(secondIn).toBe(true);
    let thirdIn = false;
    void mutex.acquire("s").then(() => (thirdIn = true));
    await tick();
    expect(thirdIn).toBe(false);
    releaseSecond();
    await tick();
    expect(thirdIn).toBe(true);
  });
});
