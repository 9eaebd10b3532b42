/**
 * Branded identifiers: plain strings at run time, distinct types at compile time, so an image id can never be passed
 * where a session id or a model fingerprint is expected.
 */
export type Brand<T, B extends string> = T & { readonly __brand: B };

/** SHA-256 (64 lowercase hex chars) over an image's canonical pixels plus its width and height. */
export type ImageId = Brand<string, "ImageId">;
/** SHA-256 over a bundle's weights and preprocessing config: a change of either changes every cache key. */
export type ModelFingerprint = Brand<string, "ModelFingerprint">;
/** Cache namespace of one tenant; `public` unless a header or API key says otherwise. */
export type TenantId = Brand<string, "TenantId">;
/** A chat session (conversation) id chosen by the server. */
export type SessionId = Brand<string, "SessionId">;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const TENANT = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const DEFAULT_TENANT = "public" as TenantId;

export function parseImageId(value: string): ImageId | null {
  return SHA256_HEX.test(value) ? (value as ImageId) : null;
}

export function parseModelFingerprint(value: string): ModelFingerprint | null {
  return SHA256_HEX.test(value) ? (value as ModelFingerprint) : null;
}

/** Tenants become part of Redis keys, so only a safe alphabet is accepted (lowercase, digits, `_`, `-`). */
export function parseTenantId(value: string): TenantId | null {
  return TENANT.test(value) ? (value as TenantId) : null;
}
