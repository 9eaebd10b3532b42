/**
 * Every cache key vlcache builds is built here, so the layout can be read in one place:
 *
 *   vlc:v1:<tenant>:image:<imageId>                           canonical image (PNG)
 *   vlc:v1:<tenant>:image:<imageId>:meta                      its metadata (JSON: imageId, width, height, bytes)
 *   vlc:v1:<tenant>:session:<sessionId>                       a chat session's conversation (JSON,
 *                                                             lib/server/sessions.ts)
 *   vlc:v1:<tenant>:l1:<fingerprint>:feat:<featureKey>        L1 vision feature record (featureRecord.ts)
 *   vlc:v1:<tenant>:l1:<fingerprint>:lock:<featureKey>        L1 encode lock: one process encodes, the others wait
 *   vlc:v1:<tenant>:l2:<fingerprint>                          L2 prefix-tree namespace (in process, not in Redis)
 *   vlc:v1:<tenant>:l2:<fingerprint>:kv:<blockHash>           L2 store tier: one KV block (kvBlockCodec.ts)
 *   vlc:v1:<tenant>:l3:<fingerprint>:resp:<responseDigest>    L3 stored answer (responseRecord.ts)
 *   vlc:v1:<tenant>:l3:<fingerprint>:near:<nearDupDigest>     L3 near-duplicate index for one image set + params
 *
 *   featureKey = <imageId>:<preprocess digest>:<storage dtype>   (featureIdentity.ts)
 *   blockHash  = hash chain over a block's key tokens and its parent block (kvBlockChain.ts)
 *
 * Invariants: keys are versioned (`v1` changes when a value's format changes); every key carries the tenant; every key
 * whose value depends on the model carries the model fingerprint. Canonical images do not depend on the model, so their
 * keys carry only the tenant. The level sits right after the tenant so `levelPrefix` selects one level of one tenant
 * for flushing, and `levelModelPrefix` one model within it. Every segment after the prefix is a fixed word, lowercase
 * hex or a dtype name, and tenants come from a key-safe alphabet, so no segment can contain a `:` of its own and
 * `parseLevelKey` reads any key back unambiguously.
 */

import { CACHE_LEVELS, type CacheLevel } from "@/lib/api/types";
import type { Brand, ImageId, ModelFingerprint, SessionId, TenantId } from "@/lib/ids";
import { parseModelFingerprint, parseTenantId } from "@/lib/ids";
import { featureKey, type FeatureIdentity } from "@/lib/cache/featureIdentity";
import type { KvBlockHash } from "@/lib/cache/kvBlockChain";
import type { NearDuplicateDigest, ResponseDigest } from "@/lib/cache/responseIdentity";

export const KEY_VERSION = "v1";
export const KEY_ROOT = `vlc:${KEY_VERSION}`;

export function tenantPrefix(tenant: TenantId): string {
  return `${KEY_ROOT}:${tenant}:`;
}

export function imageKey(tenant: TenantId, imageId: ImageId): string {
  return `${tenantPrefix(tenant)}image:${imageId}`;
}

/** Next to the PNG, so `deleteByPrefix(imageKey(…))` removes an image with its metadata. */
export function imageMetaKey(tenant: TenantId, imageId: ImageId): string {
  return `${imageKey(tenant, imageId)}:meta`;
}

/** Conversations are text and image ids, valid for any model, so the key carries only the tenant. */
export function sessionKey(tenant: TenantId, sessionId: SessionId): string {
  return `${tenantPrefix(tenant)}session:${sessionId}`;
}

/** The turn lock of a chat session (lib/server/sessionLocks.ts). */
export function sessionLockKey(tenant: TenantId, sessionId: SessionId): string {
  return `${tenantPrefix(tenant)}session-lock:${sessionId}`;
}

export function levelPrefix(tenant: TenantId, level: CacheLevel): string {
  return `${tenantPrefix(tenant)}${level}:`;
}

export function levelModelPrefix(tenant: TenantId, level: CacheLevel, fingerprint: ModelFingerprint): string {
  return `${levelPrefix(tenant, level)}${fingerprint}:`;
}

export function l1FeaturesKey(tenant: TenantId, fingerprint: ModelFingerprint, identity: FeatureIdentity): string {
  return `${levelModelPrefix(tenant, "l1", fingerprint)}feat:${featureKey(identity)}`;
}

export function l1LockKey(tenant: TenantId, fingerprint: ModelFingerprint, identity: FeatureIdentity): string {
  return `${levelModelPrefix(tenant, "l1", fingerprint)}lock:${featureKey(identity)}`;
}

/** Namespace of one tenant and model inside the in-process prefix tree: KV is never shared across either. */
export type L2Namespace = Brand<string, "L2Namespace">;

export function l2Namespace(tenant: TenantId, fingerprint: ModelFingerprint): L2Namespace {
  return `${levelPrefix(tenant, "l2")}${fingerprint}` as L2Namespace;
}

/** One block of the L2 store tier; under the namespace, so a tenant's L2 flush and model change cover it. */
export function l2BlockKey(namespace: L2Namespace, hash: KvBlockHash): string {
  return `${namespace}:kv:${hash}`;
}

export function l3ResponseKey(tenant: TenantId, fingerprint: ModelFingerprint, digest: ResponseDigest): string {
  return `${levelModelPrefix(tenant, "l3", fingerprint)}resp:${digest}`;
}

export function l3NearDuplicateKey(
  tenant: TenantId,
  fingerprint: ModelFingerprint,
  digest: NearDuplicateDigest,
): string {
  return `${levelModelPrefix(tenant, "l3", fingerprint)}near:${digest}`;
}

export interface LevelKeyParts {
  readonly tenant: TenantId;
  readonly level: CacheLevel;
  readonly fingerprint: ModelFingerprint;
}

/**
 * Reads tenant, level and fingerprint back from a level key or L2 namespace; null for anything else (image keys, other
 * versions, foreign keys). A flush that SCANs by pattern checks each key with this before deleting it.
 */
export function parseLevelKey(key: string): LevelKeyParts | null {
  const [root, version, tenantText, levelText, fingerprintText] = key.split(":");
  if (`${root}:${version}` !== KEY_ROOT || fingerprintText === undefined) return null;
  const tenant = parseTenantId(tenantText);
  const level = CACHE_LEVELS.find((name) => name === levelText);
  const fingerprint = parseModelFingerprint(fingerprintText);
  if (tenant === null || level === undefined || fingerprint === null) return null;
  return { tenant, level, fingerprint };
}
