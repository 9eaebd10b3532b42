import { describe, expect, it } from "vitest";
import { preprocessDigest, type FeatureIdentity } from "@/lib/cache/featureIdentity";
import { levelPrefix } from "@/lib/cache/keys";
import { ResponseCache, type ResponseQuery } from "@/lib/cache/l3Responses";
import { RESPONSE_RECORD_VERSION, type ResponseRecord } from "@/lib/cache/responseRecord";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";
import { parseImageId, parseModelFingerprint, parseTenantId, type ModelFingerprint } from "@/lib/ids";

const modelA = parseModelFingerprint("a".repeat(64))!;
const modelB = parseModelFingerprint("b".repeat(64))!;
const tenant = parseTenantId("public")!;
const image: FeatureIdentity = {
  imageId: parseImageId("1".repeat(64))!,
  preprocess: preprocessDigest({ t: 1 }),
  storage: "fp32",
};
const otherImage: FeatureIdentity = { ...image, imageId: parseImageId("2".repeat(64))! };
const greedy = { maxNewTokens: 8, temperature: 0, topP: 1, topK: 0, seed: null };

function query(text: string, overrides: Partial<ResponseQuery> = {}): ResponseQuery {
  return {
    tenant,
    conversation: [{ role: "user", text, images: [image] }],
    params: greedy,
    caseFold: false,
    extra: { stop: [] },
    ...overrides,
  };
}

function record(tokens: number[]): ResponseRecord {
  return {
    version: RESPONSE_RECORD_VERSION,
    tokens,
    text: "t",
    finishReason: "length",
    usage: { promptTokens: 3, completionTokens: tokens.length },
    createdAt: 1,
  };
}

function open(options: { nearDuplicates?: boolean; fingerprint?: ModelFingerprint; store?: MemoryBlobStore } = {}) {
  const store = options.store ?? new MemoryBlobStore({ maxBytes: 1 << 20 });
  const cache = new ResponseCache({
    store,
    fingerprint: options.fingerprint ?? modelA,
    nearDuplicates: { enabled: options.nearDuplicates ?? false },
  });
  return { store, cache };
}

describe("ResponseCache", () => {
  it("replays a stored answer for the same request after text normalisation, and misses otherwise", async () => {
    const { cache } = open();
    expect((await cache.lookup(query("What is this?"))).result).toBe("miss");
    await cache.store(query("What is this?"), record([5, 6, 7]));
    const hit = await cache.lookup(query("  What   is\nthis?  "));
    expect(hit).toMatchObject({ result: "hit", match: "exact", record: { tokens: [5, 6, 7] } });
    expect((await cache.lookup(query("What is that?"))).result).toBe("miss");
    expect(
      (
        await cache.lookup(
          query("What is this?", { conversation: [{ role: "user", text: "What is this?", images: [otherImage] }] }),
        )
      ).result,
    ).toBe("miss");
    expect((await cache.lookup(query("What is this?", { params: { ...greedy, maxNewTokens: 9 } }))).result).toBe(
      "miss",
    );
    expect((await cache.lookup(query("What is this?", { extra: { stop: ["."] } }))).result).toBe("miss");
  });

  it("neither stores nor serves requests sampled without a seed", async () => {
    const { cache, store } = open();
    const sampled = query("Sample?", { params: { ...greedy, temperature: 0.7 } });
    await cache.store(sampled, record([1]));
    expect((await cache.lookup(sampled)).result).toBe("bypass");
    expect(store.sizeBytes).toBe(0);
    const seeded = query("Sample?", { params: { ...greedy, temperature: 0.7, seed: 3 } });
    await cache.store(seeded, record([2]));
    expect(await cache.lookup(seeded)).toMatchObject({ result: "hit", record: { tokens: [2] } });
  });

  it("keeps tenants and models apart", async () => {
    const store = new MemoryBlobStore({ maxBytes: 1 << 20 });
    const a = open({ store });
    await a.cache.store(query("Scoped?"), record([4]));
    expect((await a.cache.lookup(query("Scoped?", { tenant: parseTenantId("team-b")! }))).result).toBe("miss");
    expect((await open({ store, fingerprint: modelB }).cache.lookup(query("Scoped?"))).result).toBe("miss");
    expect((await a.cache.lookup(query("Scoped?"))).result).toBe("hit");
  });

  it("serves near duplicates only when enabled, with identical images", async () => {
    const off = open();
    await off.cache.store(query("Which button saves the file?"), record([8]));
    expect((await off.cache.lookup(query("which button saves the file"))).result).toBe("miss");

    const on = open({ nearDuplicates: true });
    await on.cache.store(query("Which button saves the file?"), record([8]));
    expect(await on.cache.lookup(query("which button saves the file"))).toMatchObject({
      result: "hit",
      match: "near",
      record: { tokens: [8] },
    });
    expect((await on.cache.lookup(query("Which menu opens the printer settings dialog?"))).result).toBe("miss");
    const elsewhere = query("which button saves the file", {
      conversation: [{ role: "user", text: "which button saves the file", images: [otherImage] }],
    });
    expect((await on.cache.lookup(elsewhere)).result).toBe("miss");
  });

  it("drops a corrupt stored answer and reports a miss", async () => {
    const store = new KeyRecordingStore();
    const { cache } = open({ store });
    await cache.store(query("Corrupt?"), record([9]));
    const [key] = store.written.filter((k) => k.startsWith(levelPrefix(tenant, "l3")) && k.includes(":resp:"));
    await store.set(key, Buffer.from("{not json"), 60);
    expect((await cache.lookup(query("Corrupt?"))).result).toBe("miss");
    expect(await store.get(key)).toBeNull();
  });

  it("forgets one tenant's in-process entries, not another's", async () => {
    const { cache } = open();
    await cache.store(query("Keep?"), record([1]));
    const oneEntry = cache.memoryBytes;
    await cache.store(query("Keep?", { tenant: parseTenantId("team-b")! }), record([2]));
    expect(cache.forgetTenant(tenant)).toBe(1);
    expect(cache.memoryBytes).toBe(oneEntry);
  });
});

/** A memory store that also lists the keys written to it, so a test can find a key whose digest is internal. */
class KeyRecordingStore extends MemoryBlobStore {
  readonly written: string[] = [];

  constructor() {
    super({ maxBytes: 1 << 20 });
  }

  override async set(key: string, value: Buffer, ttlSeconds: number): Promise<void> {
    this.written.push(key);
    await super.set(key, value, ttlSeconds);
  }
}
