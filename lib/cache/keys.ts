import type { ImageId, TenantId } from "@/lib/ids";

/**
 * Every Redis key vlcache writes is built here, so the layout can be read in one place:
 *
 *   vlc:v1:<tenant>:image:<imageId>            canonical image (PNG) + metadata
 *
 * Invariants: keys are versioned (`v1` changes when a value's format changes), every key carries the tenant, and every
 * key whose value depends on the model also carries the model fingerprint. Canonical images do not depend on the
 * model, so their keys carry only the tenant.
 */
export const KEY_VERSION = "v1";
export const KEY_ROOT = `vlc:${KEY_VERSION}`;

export function tenantPrefix(tenant: TenantId): string {
  return `${KEY_ROOT}:${tenant}:`;
}

export function imageKey(tenant: TenantId, imageId: ImageId): string {
  return `${tenantPrefix(tenant)}image:${imageId}`;
}
