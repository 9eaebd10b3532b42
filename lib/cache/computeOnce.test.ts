import { describe, expect, it } from "vitest";
import { ComputeOnce, type ComputeOnceJob } from "@/lib/cache/computeOnce";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";
import { StoreFallback } from "@/lib/cache/storeFallback";

/**
 * The generic compute-once helper over one shared in-process store, with two instances standing for two processes.
 * (tests/integration/cache-l1.test.ts runs the same through L1 on a real Redis, restarts and lost locks included.)
 */
const VALUE_KEY = "vlc:v1:public:test:value";
const LOCK_KEY = "vlc:v1:public:test:lock";

function oneProcess(store: MemoryBlobStore) {
  return new ComputeOnce<string>({
    store,
    fallback: new StoreFallback("l1", store, undefined),
    lockTtlSeconds: 5,
    pollIntervalMs: 2,
  });
}

function valueJob(
  store: MemoryBlobStore,
  computed: string[],
  name: string,
  release: Promise<void> = Promise.resolve(),
): ComputeOnceJob<string> {
  return {
    lockKey: LOCK_KEY,
    find: async () => (await store.get(VALUE_KEY))?.toString("utf8") ?? null,
    async computeAndKeep(shared) {
      computed.push(name);
      await release;
      if (shared) await store.set(VALUE_KEY, Buffer.from(`by ${name}`), 60);
      return `by ${name}`;
    },
  };
}

describe("ComputeOnce", () => {
  it("computes once per process with single flight, and once across processes through the store's lock", async () => {
    const store = new MemoryBlobStore({ maxBytes: 1 << 20 });
    const [a, b] = [oneProcess(store), oneProcess(store)];
    const computed: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));

    const first = a.run(VALUE_KEY, valueJob(store, computed, "a", gate));
    const joined = a.run(VALUE_KEY, valueJob(store, computed, "a-again"));
    expect(a.isRunning(VALUE_KEY)).toBe(true);
    await expect.poll(() => computed).toEqual(["a"]);
    const other = b.run(VALUE_KEY, valueJob(store, computed, "b"));
    open();

    expect(await first).toEqual({ value: "by a", computedHere: true });
    expect(await joined).toEqual({ value: "by a", computedHere: true });
    expect(await other).toEqual({ value: "by a", computedHere: false });
    expect(computed).toEqual(["a"]);
    expect(await store.get(LOCK_KEY)).toBeNull();
    expect(a.isRunning(VALUE_KEY)).toBe(false);
  });

  it("settles inside the flight with the outcome, or null when the computation fails", async () => {
    const store = new MemoryBlobStore({ maxBytes: 1 << 20 });
    const once = oneProcess(store);
    const outcomes: unknown[] = [];
    const failing: ComputeOnceJob<string> = {
      lockKey: LOCK_KEY,
      find: async () => null,
      computeAndKeep: async () => Promise.reject(new Error("encoder failed")),
    };
    await expect(once.run(VALUE_KEY, failing, (outcome) => outcomes.push(outcome))).rejects.toThrow("encoder failed");
    expect(await store.get(LOCK_KEY)).toBeNull();
    await once.run(VALUE_KEY, valueJob(store, [], "a"), (outcome) => outcomes.push(outcome));
    expect(outcomes).toEqual([null, { value: "by a", computedHere: true }]);
  });

  it("stops waiting on another process's lock when the signal aborts", async () => {
    const store = new MemoryBlobStore({ maxBytes: 1 << 20 });
    await store.set(LOCK_KEY, Buffer.from("held by someone else"), 60);
    const controller = new AbortController();
    const waiting = oneProcess(store).run(VALUE_KEY, { ...valueJob(store, [], "b"), signal: controller.signal });
    controller.abort(new Error("request cancelled"));
    await expect(waiting).rejects.toThrow("request cancelled");
  });
});
