import { describe, expect, it } from "vitest";
import { contentSecurityPolicy, newNonce, nonceOfPolicy, rawErrorResponse } from "./securityHeaders";

describe("contentSecurityPolicy", () => {
  it("allows scripts by nonce only, and eval only in development", () => {
    const policy = contentSecurityPolicy({ nonce: "abc", dev: false });
    expect(policy).toContain("script-src 'self' 'nonce-abc' 'strict-dynamic';");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain("unsafe-eval");
    expect(contentSecurityPolicy({ nonce: "abc", dev: true })).toContain("'strict-dynamic' 'unsafe-eval';");
  });

  it("draws a fresh 128-bit nonce each time", () => {
    const nonces = new Set(Array.from({ length: 100 }, newNonce));
    expect(nonces.size).toBe(100);
    for (const nonce of nonces) expect(Buffer.from(nonce, "base64")).toHaveLength(16);
  });
});

describe("nonceOfPolicy", () => {
  it("reads back the nonce of a policy this module built, and nothing from any other", () => {
    const nonce = newNonce();
    expect(nonceOfPolicy(contentSecurityPolicy({ nonce, dev: false }))).toBe(nonce);
    expect(nonceOfPolicy("default-src 'self'")).toBeUndefined();
    expect(nonceOfPolicy(null)).toBeUndefined();
  });
});

describe("rawErrorResponse", () => {
  it("is a complete HTTP/1.1 answer with a JSON error body that closes the connection", () => {
    const text = rawErrorResponse(431, "headers_too_large", "too big");
    const [head, body] = text.split("\r\n\r\n");
    const [status, ...headers] = head.split("\r\n");
    expect(status).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect(headers).toContain("content-type: application/json");
    expect(headers).toContain("connection: close");
    expect(headers).toContain("x-content-type-options: nosniff");
    expect(headers).toContain(`content-length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toEqual({ error: { code: "headers_too_large", message: "too big" } });
  });
});
