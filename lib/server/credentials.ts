/**
 * The secrets the API accepts (API_KEYS, ADMIN_API_KEY, METRICS_API_KEY) and how a request presents one.
 *
 * Keys are held as SHA-256 digests: a tenant key is found by its digest and the admin and metrics keys are compared
 * digest to digest with timingSafeEqual, so how long a check takes says nothing about how much of a guess was right.
 * Pure apart from hashing; built once per configuration (`credentialsOf`).
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { AppConfig } from "@/lib/config";
import type { TenantId } from "@/lib/ids";

export class Credentials {
  private readonly tenants: ReadonlyMap<string, TenantId>;
  private readonly roleKeys: Readonly<Record<SecretRole, Buffer | null>>;

  constructor(config: Pick<AppConfig, "apiKeys" | "adminApiKey" | "metricsApiKey">) {
    this.tenants = new Map([...config.apiKeys].map(([key, tenant]) => [digest(key).toString("hex"), tenant]));
    this.roleKeys = {
      admin: config.adminApiKey === undefined ? null : digest(config.adminApiKey),
      metrics: config.metricsApiKey === undefined ? null : digest(config.metricsApiKey),
    };
  }

  /** True when API_KEYS is set: every route but health then needs a listed key, and the key names the tenant. */
  get keysRequired(): boolean {
    return this.tenants.size > 0;
  }

  /** The tenant of a listed API key, or undefined. */
  tenantOf(token: string): TenantId | undefined {
    return this.tenants.get(digest(token).toString("hex"));
  }

  /** Whether a key is configured for the role at all. */
  hasKey(role: SecretRole): boolean {
    return this.roleKeys[role] !== null;
  }

  /** Whether `token` is the role's key (false when none is configured). */
  isKeyOf(role: SecretRole, token: string | null): boolean {
    const expected = this.roleKeys[role];
    return expected !== null && token !== null && timingSafeEqual(expected, digest(token));
  }
}

/** The routes with a key of their own: admin (DELETE /api/admin/cache) and metrics (/api/metrics*). */
export type SecretRole = "admin" | "metrics";

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * The token of an `Authorization: Bearer TOKEN` header (RFC 6750), or null when there is none or the header is
 * anything else (Basic credentials, an empty or malformed Bearer).
 */
export function bearerToken(headers: Headers): string | null {
  return BEARER.exec(headers.get("authorization") ?? "")?.[1] ?? null;
}

const built = new WeakMap<object, Credentials>();

/** The Credentials of a configuration, built on first use. */
export function credentialsOf(config: Pick<AppConfig, "apiKeys" | "adminApiKey" | "metricsApiKey">): Credentials {
  let credentials = built.get(config);
  if (!credentials) built.set(config, (credentials = new Credentials(config)));
  return credentials;
}
