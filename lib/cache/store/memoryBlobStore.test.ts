import { describe, expect, it } from "vitest";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";

function clock(startMs = 1_000_000) {
  let now = startMs;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("MemoryBlobStore", () => {
  it("expires entries after their TTL", async () => {
    const time = clock();
    const store = new MemoryBlobStore({ maxBytes: 1024, now: time.now });
    await store.set("a", Buffer.from("x"), 10);
    time.advance(9_999);
    expect((await store.get("a"))!.toString()).toBe("x");
    time.advance(1);
    expect(await store.get("a")).toBeNull();
    expect(store.sizeBytes).toBe(0);
  });

  it("lets setIfAbsent claim a key again once the previous entry expired", async () => {
    const time = clock();
    const store = new MemoryBlobStore({ maxBytes: 1024, now: time.now });
    expect(await store.setIfAbsent("lock", Buffer.from("1"), 1)).toBe(true);
    expect(await store.setIfAbsent("lock", Buffer.from("2"), 1)).toBe(false);
    time.advance(1_000);
    expect(await store.setIfAbsent("lock", Buffer.from("3"), 1)).toBe(true);
  });

  it("renewIfValue restarts the TTL of the matching value only; an expired lock is neither renewed nor deleted", async () => {
    const time = clock();
    const store = new MemoryBlobStore({ maxBytes: 1024, now: time.now });
    await store.setIfAbsent("lock", Buffer.from("a"), 1);
    time.advance(900);
    expect(await store.renewIfValue("lock", Buffer.from("a"), 1)).toBe(true);
    time.advance(900);
    expect((await store.get("lock"))!.toString()).toBe("a");
    time.advance(100);
    expect(await store.renewIfValue("lock", Buffer.from("a"), 1)).toBe(false);
    expect(await store.setIfAbsent("lock", Buffer.from("b"), 1)).toBe(true);
    expect(await store.deleteIfValue("lock", Buffer.from("a"))).toBe(false);
    expect((await store.get("lock"))!.toString()).toBe("b");
    expect(store.sizeBytes).toBe(1);
  });

  it("evicts least recently used entries past maxBytes; a read counts as use", async () => {
    const store = new MemoryBlobStore({ maxBytes: 10 });
    await store.set("a", Buffer.alloc(4, 1), 60);
    await store.set("b", Buffer.alloc(4, 2), 60);
    await store.get("a");
    await store.set("c", Buffer.alloc(4, 3), 60);
    expect(await store.get("b")).toBeNull();
    expect(await store.get("a")).toEqual(Buffer.alloc(4, 1));
    expect(await store.get("c")).toEqual(Buffer.alloc(4, 3));
    expect(store.sizeBytes).toBe(8);
  });

  it("does not store a value larger than the whole budget and keeps what it had", async () => {
    const store = new MemoryBlobStore({ maxBytes: 8 });
    await store.set("a", Buffer.alloc(4), 60);
    expect(await store.setIfAbsent("huge", Buffer.alloc(9), 60)).toBe(false);
    expect(await store.get("huge")).toBeNull();
    expect(store.sizeBytes).toBe(4);
  });

  it("with whenFull refuse, evicts nothing: the strict write rejects with StoreFullError, the soft one drops the value", async () => {
    let nowMs = 0;
    const store = new MemoryBlobStore({ maxBytes: 10, whenFull: "refuse", now: () => nowMs });
    await store.strict.set("a", Buffer.alloc(4, 1), 60);
    await store.strict.set("b", Buffer.alloc(4, 2), 1);
    await expect(store.strict.set("c", Buffer.alloc(4, 3), 60)).rejects.toMatchObject({ name: "StoreFullError" });
    await expect(store.strict.setIfAbsent("c", Buffer.alloc(4, 3), 60)).rejects.toMatchObject({
      name: "StoreFullError",
    });
    expect(await store.setIfAbsent("c", Buffer.alloc(4, 3), 60)).toBe(false);
    expect(await store.get("a")).toEqual(Buffer.alloc(4, 1));
    expect(await store.get("b")).toEqual(Buffer.alloc(4, 2));
    expect(await store.get("c")).toBeNull();
    // Replacing a value with one of the same size fits; an expired entry makes room.
    await store.strict.set("a", Buffer.alloc(4, 9), 60);
    expect(await store.get("a")).toEqual(Buffer.alloc(4, 9));
    nowMs = 1_000;
    await store.strict.set("c", Buffer.alloc(4, 3), 60);
    expect(await store.get("c")).toEqual(Buffer.alloc(4, 3));
    expect(store.sizeBytes).toBe(8);
  });

  it("delivers a published message to its own listeners of that channel until they unsubscribe", async () => {
    const store = new MemoryBlobStore({ maxBytes: 64 });
    const heard: string[] = [];
    const stopA = store.subscribe("news", (message) => heard.push(`a:${message}`));
    store.subscribe("news", (message) => heard.push(`b:${message}`));
    store.subscribe("other", (message) => heard.push(`other:${message}`));
    expect(await store.publish("news", "one")).toBe(2);
    stopA();
    expect(await store.publish("news", "two")).toBe(1);
    expect(await store.publish("nobody", "three")).toBe(0);
    expect(heard).toEqual(["a:one", "b:one", "b:two"]);
  });

  it("keeps its own copy of a value", async () => {
    const store = new MemoryBlobStore({ maxBytes: 64 });
    const value = Buffer.from("abc");
    await store.set("k", value, 60);
    value.write("zzz");
    expect((await store.get("k"))!.toString()).toBe("abc");
  });
});
