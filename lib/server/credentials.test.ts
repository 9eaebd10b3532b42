import { describe, expect, it } from "vitest";
import type { TenantId } from "@/lib/ids";
import { bearerToken, Credentials, credentialsOf } from "./credentials";

describe("Credentials", () => {
  const config = {
    apiKeys: new Map([["sk=a", "team-a" as TenantId]]),
    adminApiKey: "admin-secret",
    metricsApiKey: undefined,
  };
  const credentials = new Credentials(config);

  it("finds a tenant by its key and nothing by a near miss", () => {
    expect(credentials.keysRequired).toBe(true);
    expect(credentials.tenantOf("sk=a")).toBe("team-a");
    expect(credentials.tenantOf("sk=A")).toBeUndefined();
    expect(credentials.tenantOf("admin-secret")).toBeUndefined();
  });

  it("checks the role keys, and refuses every token for a role without one", () => {
    expect(credentials.hasKey("admin")).toBe(true);
    expect(credentials.isKeyOf("admin", "admin-secret")).toBe(true);
    expect(credentials.isKeyOf("admin", "admin-secre")).toBe(false);
    expect(credentials.isKeyOf("admin", "sk=a")).toBe(false);
    expect(credentials.isKeyOf("admin", null)).toBe(false);
    expect(credentials.hasKey("metrics")).toBe(false);
    expect(credentials.isKeyOf("metrics", "")).toBe(false);
  });

  it("is built once per configuration object", () => {
    expect(credentialsOf(config)).toBe(credentialsOf(config));
    expect(credentialsOf({ ...config })).not.toBe(credentialsOf(config));
  });
});

describe("bearerToken", () => {
  it("reads RFC 6750 Bearer credentials only", () => {
    expect(bearerToken(new Headers({ authorization: "Bearer abc.def_1=" }))).toBe("abc.def_1=");
    expect(bearerToken(new Headers({ authorization: "BEARER abc" }))).toBe("abc");
    expect(bearerToken(new Headers({ authorization: "Basic YTpi" }))).toBeNull();
    expect(bearerToken(new Headers({ authorization: "Bearer a b" }))).toBeNull();
    expect(bearerToken(new Headers())).toBeNull();
  });
});
