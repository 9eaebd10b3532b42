import { describe, expect, it } from "vitest";
import { FLUSH_CHANNEL, flushCaches, followFlushes, type CacheLevels } from "@/lib/cache/flush";
import { preprocessDigest } from "@/lib/cache/featureIdentity";
import { FeatureCache } from "@/lib/cache/l1Features";
import { PrefixKvCache } from "@/lib/cache/l2PrefixKv";
import { ResponseCache, type ResponseQuery } from "@/lib/cache/l3Responses";
import { RESPONSE_RECORD_VERSION, type ResponseRecord } from "@/lib/cache/responseRecord";
import { MemoryBlobStore } from "@/lib/cache/store/memoryBlobStore";
import { parseImageId, parseModelFingerprint, parseTenantId, type TenantId } from "@/lib/ids";
import { createLogger } from "@/lib/log";

const fingerprint = parseModelFingerprint("a".repeat(64))!;
const teamA = parseTenantId("team-a")!;
const teamB = parseTenantId("team-b")!;
const image = {
  imageId: parseImageId("1".repeat(64))!,
  preprocess: preprocessDigest({ t: 1 }),
  storage: "fp32" as const,
};

function query(tenant: TenantId): ResponseQuery {
  const params = { maxNewTokens: 8, temperature: 0, topP: 1, topK: 0, seed: null };
  return {
    tenant,
    conversation: [{ role: "user", text: "Flush?", images: [image] }],
    params,
    caseFold: false,
    extra: {},
  };
}

function levelsOver(store: MemoryBlobStore): CacheLevels {
  return {
    features: new FeatureCache({ store, fingerprint, shape: { hidden: 4, deepstackLayers: 0 } }),
    prefix: new PrefixKvCache(),
    responses: new ResponseCache({ store, fingerprint }),
  };
}

describe("flush notices", () => {
  it("reach the caches following the store, from a flush without levels of its own, until they stop following", async () => {
    const store = new MemoryBlobStore({ maxBytes: 1 << 20 });
    const levels = levelsOver(store);
    const lines: string[] = [];
    const stop = followFlushes(store, levels, createLogger("info", { write: (line: string) => lines.push(line) }));
    const answer: ResponseRecord = {
      version: RESPONSE_RECORD_VERSION,
      tokens: [1, 2],
      text: "t",
      finishReason: "length",
      usage: { promptTokens: 3, completionTokens: 2 },
      createdAt: 1,
    };
    await levels.responses.store(query(teamA), answer);
    const oneTenant = levels.responses.memoryBytes;
    await levels.responses.store(query(teamB), answer);
    const bothTenants = levels.responses.memoryBytes;

    for (const malformed of [
      "{",
      JSON.stringify({ tenant: "team-a", levels: ["l4"] }),
      JSON.stringify({ tenant: "Team A!", levels: ["l3"] }),
    ]) {
      expect(await store.publish(FLUSH_CHANNEL, malformed)).toBe(1);
    }
    expect(levels.responses.memoryBytes).toBe(bothTenants);
    expect(lines.map((line) => (JSON.parse(line) as { level: number; msg: string }).msg)).toEqual(
      Array(3).fill("flush: ignored a malformed flush notice"),
    );

    expect(await flushCaches({ store, levels: null }, teamA, ["l3"])).toEqual({
      l3: { storeEntries: 1, inProcess: 0 },
    });
    expect(levels.responses.memoryBytes).toBe(bothTenants - oneTenant);

    stop();
    await flushCaches({ store, levels: null }, teamB, ["l3"]);
    expect(levels.responses.memoryBytes).toBe(bothTenants - oneTenant);
  });
});
