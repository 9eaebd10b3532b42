import { describe, expect, it } from "vitest";
import type { TenantId } from "@/lib/ids";
import { identifyClient } from "./clientIdentity";

const keys = new Map([["sk-a", "team-a" as TenantId]]);
const noKeys = new Map<string, TenantId>();

describe("identifyClient", () => {
  it("defaults to the public tenant, keyed by the forwarded address", () => {
    const result = identifyClient(new Headers({ "x-forwarded-for": "10.0.0.7, 172.16.0.1" }), noKeys);
    expect(result).toEqual({ ok: true, identity: { tenant: "public", rateLimitKey: "ip:10.0.0.7" } });
  });

  it("takes the tenant header", () => {
    const result = identifyClient(new Headers({ "x-vlcache-tenant": "acme_1", "x-forwarded-for": "::1" }), noKeys);
    expect(result).toEqual({ ok: true, identity: { tenant: "acme_1", rateLimitKey: "ip:::1" } });
  });

  it("refuses a tenant header outside the key-safe alphabet", () => {
    for (const tenant of ["Acme", "a:b", "-x", "a".repeat(65)]) {
      const result = identifyClient(new Headers({ "x-vlcache-tenant": tenant }), noKeys);
      expect(result).toMatchObject({ ok: false, status: 400, code: "invalid_tenant" });
    }
  });

  it("maps a listed API key to its tenant and buckets by key, over the tenant header", () => {
    const headers = new Headers({ authorization: "Bearer sk-a", "x-vlcache-tenant": "other", "x-forwarded-for": "10.0.0.7" });
    expect(identifyClient(headers, keys)).toEqual({ ok: true, identity: { tenant: "team-a", rateLimitKey: "key:sk-a" } });
  });

  it("refuses an unlisted API key when keys are configured", () => {
    expect(identifyClient(new Headers({ authorization: "Bearer sk-b" }), keys)).toEqual({
      ok: false,
      status: 401,
      code: "invalid_api_key",
      message: "the API key is not valid",
    });
  });

  it("ignores bearer tokens when no keys are configured, and requests without one when they are", () => {
    expect(identifyClient(new Headers({ authorization: "Bearer placeholder" }), noKeys)).toMatchObject({ ok: true, identity: { tenant: "public" } });
    expect(identifyClient(new Headers({ "x-real-ip": "10.1.1.1" }), keys)).toEqual({
      ok: true,
      identity: { tenant: "public", rateLimitKey: "ip:10.1.1.1" },
    });
  });

  it("puts clients without any address into one bucket", () => {
    expect(identifyClient(new Headers(), noKeys)).toMatchObject({ ok: true, identity: { rateLimitKey: "ip:unknown" } });
  });
});
