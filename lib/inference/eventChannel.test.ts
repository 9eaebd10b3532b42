import { describe, expect, it } from "vitest";
import { EventChannel } from "./eventChannel";

async function drain<T>(channel: EventChannel<T>): Promise<T[]> {
  const seen: T[] = [];
  for await (const value of channel) seen.push(value);
  return seen;
}

describe("EventChannel", () => {
  it("delivers events pushed before and after the consumer starts, in order, then ends on close", async () => {
    const channel = new EventChannel<number>();
    channel.push(1);
    channel.push(2);
    const consumed = drain(channel);
    await Promise.resolve();
    channel.push(3);
    channel.close();
    channel.push(4);
    expect(await consumed).toEqual([1, 2, 3]);
  });

  it("delivers the buffered events, then the failure, then the end", async () => {
    const channel = new EventChannel<string>();
    channel.push("a");
    channel.fail(new Error("engine broke"));
    channel.close();
    expect(await channel.next()).toEqual({ value: "a", done: false });
    await expect(channel.next()).rejects.toThrow("engine broke");
    expect(await channel.next()).toEqual({ value: undefined, done: true });
  });

  it("rejects a consumer already waiting when the producer fails", async () => {
    const channel = new EventChannel<string>();
    const waiting = channel.next();
    channel.fail(new Error("late failure"));
    await expect(waiting).rejects.toThrow("late failure");
  });

  it("tells the producer when the consumer leaves early, and only then", async () => {
    let gone = 0;
    const early = new EventChannel<number>(() => gone++);
    early.push(1);
    early.push(2);
    for await (const value of early) if (value === 1) break;
    expect(gone).toBe(1);
    early.push(3);
    expect(await early.next()).toEqual({ value: undefined, done: true });

    const finished = new EventChannel<number>(() => gone++);
    finished.push(1);
    finished.close();
    expect(await drain(finished)).toEqual([1]);
    await finished.return();
    expect(gone).toBe(1);
  });
});
