import { DEFAULT_TENANT, parseTenantId, type TenantId } from "@/lib/ids";

/**
 * Who sent a request, as far as caching and rate limiting care: the tenant whose cache namespace it uses and the key
 * of its rate-limit bucket. Pure: it reads headers only.
 *
 * Tenant, in this order:
 * 1. an API key (`Authorization: Bearer KEY`, as the OpenAI clients send it) listed in API_KEYS → that key's tenant;
 *    a key that is not listed is refused (401), so a typo never lands silently in another namespace;
 * 2. the `x-vlcache-tenant` header → that tenant (a namespace, not a security boundary: use API keys to keep tenants
 *    apart);
 * 3. otherwise `public`.
 * When API_KEYS is unset, bearer tokens are ignored (the OpenAI client always sends one, often a placeholder).
 *
 * Rate-limit key: the API key when there is one (one bucket per key, wherever it is used from), else the client
 * address. `next start` fills `x-forwarded-for` from the socket unless the request already carries one, so behind a
 * reverse proxy that sets it, the proxy's view of the client counts; its first entry is the original client.
 */
export const TENANT_HEADER = "x-vlcache-tenant";

export interface ClientIdentity {
  readonly tenant: TenantId;
  readonly rateLimitKey: string;
}

export type IdentityResult =
  | { readonly ok: true; readonly identity: ClientIdentity }
  | { readonly ok: false; readonly status: 400 | 401; readonly code: string; readonly message: string };

export function identifyClient(headers: Headers, apiKeys: ReadonlyMap<string, TenantId>): IdentityResult {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.get("authorization") ?? "")?.[1];
  if (bearer !== undefined && apiKeys.size > 0) {
    const tenant = apiKeys.get(bearer);
    if (tenant === undefined) return { ok: false, status: 401, code: "invalid_api_key", message: "the API key is not valid" };
    return { ok: true, identity: { tenant, rateLimitKey: `key:${bearer}` } };
  }

  const rateLimitKey = `ip:${clientAddress(headers)}`;
  const named = headers.get(TENANT_HEADER);
  if (named === null || named === "") return { ok: true, identity: { tenant: DEFAULT_TENANT, rateLimitKey } };
  const tenant = parseTenantId(named);
  if (tenant === null) {
    return {
      ok: false,
      status: 400,
      code: "invalid_tenant",
      message: `${TENANT_HEADER} must be 1 to 64 of a-z, 0-9, _ or - (starting with a letter or digit)`,
    };
  }
  return { ok: true, identity: { tenant, rateLimitKey } };
}

function clientAddress(headers: Headers): string {
  const first = headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return first || headers.get("x-real-ip")?.trim() || "unknown";
}
