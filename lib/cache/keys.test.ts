import { describe, expect, it } from "vitest";
import { parseImageId, parseModelFingerprint, parseTenantId } from "@/lib/ids";
import { featureKey, preprocessDigest, type FeatureIdentity } from "@/lib/cache/featureIdentity";
import {
  imageKey,
  l1FeaturesKey,
  l1LockKey,
  l2BlockKey,
  l2Namespace,
  l3NearDuplicateKey,
  l3ResponseKey,
  levelModelPrefix,
  levelPrefix,
  parseLevelKey,
} from "@/lib/cache/keys";
import type { KvBlockHash } from "@/lib/cache/kvBlockChain";
import type { NearDuplicateDigest, ResponseDigest } from "@/lib/cache/responseIdentity";

const hex = (c: string) => c.repeat(64);
const tenant = parseTenantId("team-a")!;
const otherTenant = parseTenantId("team-b")!;
const fingerprint = parseModelFingerprint(hex("f"))!;
const otherFingerprint = parseModelFingerprint(hex("e"))!;
const preprocess = preprocessDigest({ minPixels: 3136, maxPixels: 1003520, patchSize: 16, mergeSize: 2 });
const identity: FeatureIdentity = { imageId: parseImageId(hex("a"))!, preprocess, storage: "fp32" };
const responseDigest = hex("1") as ResponseDigest;
const nearDigest = hex("2") as NearDuplicateDigest;

describe("cache keys", () => {
  it("lays out L1 feature and lock keys as vlc:v1:<tenant>:l1:<fingerprint>:feat|lock:<featureKey>", () => {
    expect(featureKey(identity)).toBe(`${hex("a")}:${preprocess}:fp32`);
    expect(l1FeaturesKey(tenant, fingerprint, identity)).toBe(
      `vlc:v1:team-a:l1:${hex("f")}:feat:${featureKey(identity)}`,
    );
    expect(l1LockKey(tenant, fingerprint, identity)).toBe(`vlc:v1:team-a:l1:${hex("f")}:lock:${featureKey(identity)}`);
  });

  it("lays out the L2 namespace and L3 keys", () => {
    expect(l2Namespace(tenant, fingerprint)).toBe(`vlc:v1:team-a:l2:${hex("f")}`);
    expect(l3ResponseKey(tenant, fingerprint, responseDigest)).toBe(`vlc:v1:team-a:l3:${hex("f")}:resp:${hex("1")}`);
    expect(l3NearDuplicateKey(tenant, fingerprint, nearDigest)).toBe(`vlc:v1:team-a:l3:${hex("f")}:near:${hex("2")}`);
  });

  it("gives a different L1 key for any change of tenant, model, image, preprocessing or storage dtype", () => {
    const base = l1FeaturesKey(tenant, fingerprint, identity);
    const variants = [
      l1FeaturesKey(otherTenant, fingerprint, identity),
      l1FeaturesKey(tenant, otherFingerprint, identity),
      l1FeaturesKey(tenant, fingerprint, { ...identity, imageId: parseImageId(hex("b"))! }),
      l1FeaturesKey(tenant, fingerprint, { ...identity, preprocess: preprocessDigest({ maxPixels: 1 }) }),
      l1FeaturesKey(tenant, fingerprint, { ...identity, storage: "int8" }),
    ];
    expect(new Set([base, ...variants]).size).toBe(6);
  });

  it("digests preprocessing parameters independently of field order", () => {
    expect(preprocessDigest({ b: 2, a: [1, 2] })).toBe(preprocessDigest({ a: [1, 2], b: 2 }));
    expect(preprocessDigest({ a: [1, 2] })).not.toBe(preprocessDigest({ a: [2, 1] }));
    expect(preprocess).toMatch(/^[0-9a-f]{64}$/);
  });

  it("selects exactly one level of one tenant with levelPrefix, even when a tenant is named like a level", () => {
    const l1 = parseTenantId("l1")!;
    const l3 = parseTenantId("l3")!;
    const keys = [
      l1FeaturesKey(l1, fingerprint, identity),
      l1LockKey(l1, fingerprint, identity),
      l3ResponseKey(l1, fingerprint, responseDigest),
      l1FeaturesKey(l3, fingerprint, identity),
      l3ResponseKey(l3, fingerprint, responseDigest),
      imageKey(l1, identity.imageId),
      l2Namespace(l1, fingerprint),
    ];
    const selected = (prefix: string) => keys.filter((key) => key.startsWith(prefix));
    expect(selected(levelPrefix(l1, "l1"))).toEqual([keys[0], keys[1]]);
    expect(selected(levelPrefix(l1, "l3"))).toEqual([keys[2]]);
    expect(selected(levelPrefix(l3, "l1"))).toEqual([keys[3]]);
    expect(selected(levelPrefix(l1, "l2"))).toEqual([keys[6]]);
    expect(selected(levelModelPrefix(l1, "l1", otherFingerprint))).toEqual([]);
  });

  it("reads tenant, level and model back from every level key, and nothing from other keys", () => {
    const parts = { tenant, fingerprint };
    expect(parseLevelKey(l1FeaturesKey(tenant, fingerprint, identity))).toEqual({ ...parts, level: "l1" });
    expect(parseLevelKey(l1LockKey(tenant, fingerprint, identity))).toEqual({ ...parts, level: "l1" });
    expect(parseLevelKey(l2Namespace(tenant, fingerprint))).toEqual({ ...parts, level: "l2" });
    const block = l2BlockKey(l2Namespace(tenant, fingerprint), hex("b") as KvBlockHash);
    expect(block).toBe(`${l2Namespace(tenant, fingerprint)}:kv:${hex("b")}`);
    expect(parseLevelKey(block)).toEqual({ ...parts, level: "l2" });
    expect(block.startsWith(levelModelPrefix(tenant, "l2", fingerprint))).toBe(true);
    expect(parseLevelKey(l3ResponseKey(tenant, fingerprint, responseDigest))).toEqual({ ...parts, level: "l3" });
    expect(parseLevelKey(l3NearDuplicateKey(tenant, fingerprint, nearDigest))).toEqual({ ...parts, level: "l3" });
    expect(parseLevelKey(imageKey(tenant, identity.imageId))).toBeNull();
    expect(parseLevelKey(`vlc:v2:team-a:l1:${hex("f")}:feat:x`)).toBeNull();
    expect(parseLevelKey(`vlc:v1:Team:l1:${hex("f")}:feat:x`)).toBeNull();
    expect(parseLevelKey(`vlc:v1:team-a:l4:${hex("f")}`)).toBeNull();
    expect(parseLevelKey(`vlc:v1:team-a:l1:notafingerprint:feat:x`)).toBeNull();
    expect(parseLevelKey("session:123")).toBeNull();
  });
});
