import { describe, expect, it } from "vitest";
import type { TenantId } from "@/lib/ids";
import { CLIENT_ADDRESS_HEADER } from "./clientAddress";
import { identifyClient } from "./clientIdentity";
import { Credentials } from "./credentials";

const keyed = new Credentials({
  apiKeys: new Map([["sk-a", "team-a" as TenantId]]),
  adminApiKey: undefined,
  metricsApiKey: undefined,
});
const open = new Credentials({ apiKeys: new Map(), adminApiKey: undefined, metricsApiKey: undefined });
const from = (address: string, extra: Record<string, string> = {}) =>
  new Headers({ [CLIENT_ADDRESS_HEADER]: address, ...extra });

describe("identifyClient without API keys", () => {
  it("defaults to the public tenant, keyed by the address the server resolved (never x-forwarded-for)", () => {
    const result = identifyClient(from("10.0.0.7", { "x-forwarded-for": "6.6.6.6" }), open);
    expect(result).toEqual({ ok: true, identity: { tenant: "public", rateLimitKey: "ip:10.0.0.7" } });
  });

  it("takes the tenant header", () => {
    const result = identifyClient(from("::1", { "x-vlcache-tenant": "acme_1" }), open);
    expect(result).toEqual({ ok: true, identity: { tenant: "acme_1", rateLimitKey: "ip:::1" } });
  });

  it("refuses a tenant header outside the key-safe alphabet", () => {
    for (const tenant of ["Acme", "a:b", "-x", "a".repeat(65)]) {
      expect(identifyClient(new Headers({ "x-vlcache-tenant": tenant }), open)).toMatchObject({
        ok: false,
        status: 400,
        code: "invalid_tenant",
      });
    }
  });

  it("ignores bearer tokens", () => {
    expect(identifyClient(new Headers({ authorization: "Bearer placeholder" }), open)).toMatchObject({
      ok: true,
      identity: { tenant: "public" },
    });
  });

  it("puts requests that did not come through the app's server into one bucket", () => {
    expect(identifyClient(new Headers({ "x-forwarded-for": "10.9.9.9" }), open)).toMatchObject({
      ok: true,
      identity: { rateLimitKey: "ip:unknown" },
    });
  });
});

describe("identifyClient with API keys", () => {
  it("maps a listed key to its tenant, ignores the tenant header and buckets by tenant", () => {
    const headers = from("10.0.0.7", { authorization: "Bearer sk-a", "x-vlcache-tenant": "other" });
    expect(identifyClient(headers, keyed)).toEqual({
      ok: true,
      identity: { tenant: "team-a", rateLimitKey: "key:team-a" },
    });
    expect(identifyClient(new Headers({ authorization: "bearer  sk-a" }), keyed)).toMatchObject({
      ok: true,
      identity: { tenant: "team-a" },
    });
  });

  it("refuses an unlisted key", () => {
    expect(identifyClient(new Headers({ authorization: "Bearer sk-b" }), keyed)).toEqual({
      ok: false,
      status: 401,
      code: "invalid_api_key",
      message: "the API key is not valid",
    });
  });

  it("refuses requests without a usable Bearer key, whatever tenant they name", () => {
    const attempts: Record<string, string>[] = [
      {},
      { "x-vlcache-tenant": "team-a" },
      { authorization: `Basic ${Buffer.from("sk-a:").toString("base64")}`, "x-vlcache-tenant": "team-a" },
      { authorization: "Bearer" },
      { authorization: "Bearer " },
      { authorization: "Bearer sk-a extra" },
      { authorization: "sk-a" },
    ];
    for (const headers of attempts) {
      expect(identifyClient(new Headers(headers), keyed)).toEqual({
        ok: false,
        status: 401,
        code: "missing_api_key",
        message: "this server requires an API key: send Authorization: Bearer KEY",
      });
    }
  });
});
