/**
 * Who sent a request, as far as caching and rate limiting care: the tenant whose cache namespace it uses and the key
 * of its rate-limit bucket. Pure: it reads headers only.
 *
 * With API_KEYS set, the API key is the identity: a request must carry `Authorization: Bearer KEY` with a listed key
 * (no key, Basic credentials or a malformed header: 401 `missing_api_key`; an unlisted key: 401 `invalid_api_key`),
 * its tenant is the key's, and the tenant header is ignored. Without API_KEYS, the `x-vlcache-tenant` header names the
 * tenant (a namespace, not a security boundary), else `public`; bearer tokens are ignored then (the OpenAI client
 * always sends one, often a placeholder).
 *
 * Rate-limit key: the API key's tenant (one bucket per tenant, wherever its keys are used from), else the client
 * address that the app's HTTP server (server.ts) resolved from the socket and TRUSTED_PROXIES and wrote into
 * CLIENT_ADDRESS_HEADER, replacing anything the client sent there (requestClientAddress).
 */

import { DEFAULT_TENANT, parseTenantId, type TenantId } from "@/lib/ids";
import { requestClientAddress } from "./clientAddress";
import { bearerToken, type Credentials } from "./credentials";

export const TENANT_HEADER = "x-vlcache-tenant";

export interface ClientIdentity {
  readonly tenant: TenantId;
  readonly rateLimitKey: string;
}

export type IdentityResult =
  | { readonly ok: true; readonly identity: ClientIdentity }
  | { readonly ok: false; readonly status: 400 | 401; readonly code: string; readonly message: string };

export function identifyClient(headers: Headers, credentials: Credentials): IdentityResult {
  if (credentials.keysRequired) {
    const token = bearerToken(headers);
    if (token === null) {
      return {
        ok: false,
        status: 401,
        code: "missing_api_key",
        message: "this server requires an API key: send Authorization: Bearer KEY",
      };
    }
    const tenant = credentials.tenantOf(token);
    if (tenant === undefined)
      return { ok: false, status: 401, code: "invalid_api_key", message: "the API key is not valid" };
    return { ok: true, identity: { tenant, rateLimitKey: `key:${tenant}` } };
  }

  const rateLimitKey = `ip:${requestClientAddress(headers)}`;
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
