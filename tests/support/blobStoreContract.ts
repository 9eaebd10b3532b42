/**
 * The BlobStore contract (lib/cache/store/blobStore.ts) as a vitest suite, run against every implementation and
 * deployment: the in-process store and one Redis (tests/integration/blobStore.test.ts), a Redis Cluster
 * (tests/integration/redis-cluster.test.ts).
 *
 *   describeBlobStoreContract("redis", () => openMyStore());   // inside a test file; `open` runs once, in beforeAll
 *
 * The store must start empty; every test leaves it empty again (`deleteByPrefix("")`), which also checks that a
 * deletion by prefix reaches every key.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { BlobStore } from "@/lib/cache/store/blobStore";

export function describeBlobStoreContract(name: string, open: () => Promise<BlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    beforeAll(async () => {
      store = await open();
    });
    afterEach(() => store.deleteByPrefix(""));
    afterAll(() => store.close());

    it("round-trips arbitrary bytes and answers null for a missing key", async () => {
      const bytes = Buffer.from([0, 255, 10, 13, 0, 128]);
      await store.set("k:bin", bytes, 60);
      expect(await store.get("k:bin")).toEqual(bytes);
      expect(await store.get("k:absent")).toBeNull();
    });

    it("setIfAbsent writes only the first time", async () => {
      expect(await store.setIfAbsent("k:lock", Buffer.from("a"), 60)).toBe(true);
      expect(await store.setIfAbsent("k:lock", Buffer.from("b"), 60)).toBe(false);
      expect((await store.get("k:lock"))!.toString()).toBe("a");
    });

    it("renewIfValue and deleteIfValue act only while the key holds exactly the given value", async () => {
      const mine = Buffer.from("claim-a");
      expect(await store.renewIfValue("k:lock", mine, 60)).toBe(false);
      expect(await store.deleteIfValue("k:lock", mine)).toBe(false);
      await store.setIfAbsent("k:lock", mine, 60);
      expect(await store.renewIfValue("k:lock", Buffer.from("claim-b"), 60)).toBe(false);
      expect(await store.renewIfValue("k:lock", Buffer.from("claim-"), 60)).toBe(false);
      expect(await store.deleteIfValue("k:lock", Buffer.from("claim-b"))).toBe(false);
      expect(await store.get("k:lock")).toEqual(mine);
      expect(await store.renewIfValue("k:lock", Buffer.from("claim-a"), 60)).toBe(true);
      expect(await store.get("k:lock")).toEqual(mine);
      expect(await store.deleteIfValue("k:lock", Buffer.from("claim-a"))).toBe(true);
      expect(await store.get("k:lock")).toBeNull();
      await expect(store.renewIfValue("k:lock", mine, 0)).rejects.toThrow(RangeError);
    });

    it("renew resets the TTL of a key that exists and reports one that does not", async () => {
      expect(await store.renew("k:absent", 60)).toBe(false);
      await store.set("k:r", Buffer.from("v"), 60);
      expect(await store.strict.renew("k:r", 120)).toBe(true);
      expect((await store.get("k:r"))!.toString()).toBe("v");
      await expect(store.renew("k:r", 0)).rejects.toThrow(RangeError);
    });

    it("set replaces an existing value", async () => {
      await store.set("k:x", Buffer.from("one"), 60);
      await store.set("k:x", Buffer.from("two"), 60);
      expect((await store.get("k:x"))!.toString()).toBe("two");
    });

    it("del counts only keys that existed", async () => {
      await store.set("k:a", Buffer.from("1"), 60);
      await store.set("k:b", Buffer.from("2"), 60);
      expect(await store.del("k:a", "k:b", "k:c")).toBe(2);
      expect(await store.del()).toBe(0);
      expect(await store.get("k:a")).toBeNull();
    });

    it("deleteByPrefix removes exactly the keys under the prefix, glob characters taken literally", async () => {
      await store.set("t[1]*:a", Buffer.from("1"), 60);
      await store.set("t[1]*:b", Buffer.from("2"), 60);
      await store.set("t1x:a", Buffer.from("3"), 60);
      await store.set("other", Buffer.from("4"), 60);
      expect(await store.deleteByPrefix("t[1]*:")).toBe(2);
      expect((await store.get("t1x:a"))!.toString()).toBe("3");
      expect((await store.get("other"))!.toString()).toBe("4");
    });

    it("deleteByPrefix and del reach every key, however many and wherever they are kept", async () => {
      // 600 keys: more than one SCAN batch, and on a cluster spread over every master's slots.
      const keys = Array.from({ length: 600 }, (_, i) => `many:${i}`);
      await Promise.all(keys.map((key) => store.set(key, Buffer.from(key), 60)));
      expect(await store.del(...keys.slice(0, 50), "many:absent")).toBe(50);
      expect(await store.deleteByPrefix("many:")).toBe(550);
      expect(await Promise.all(keys.map((key) => store.get(key)))).toEqual(keys.map(() => null));
    });

    it("rejects a TTL that is not a positive whole number of seconds", async () => {
      await expect(store.set("k", Buffer.from("v"), 0)).rejects.toThrow(RangeError);
      await expect(store.setIfAbsent("k", Buffer.from("v"), 1.5)).rejects.toThrow(RangeError);
    });

    it("is healthy while connected", () => {
      expect(store.isHealthy()).toBe(true);
    });
  });
}
