import { describe, expect, it } from "vitest";
import { normalizeAddress, TrustedProxies } from "./clientAddress";

describe("TrustedProxies.clientAddress", () => {
  it("takes the socket's peer and ignores x-forwarded-for when no proxy is trusted", () => {
    const none = new TrustedProxies([]);
    expect(none.clientAddress("203.0.113.9", "10.1.1.1")).toBe("203.0.113.9");
    expect(none.clientAddress("::ffff:127.0.0.1", undefined)).toBe("127.0.0.1");
    expect(none.clientAddress(undefined, "10.1.1.1")).toBe("unknown");
  });

  it("believes a trusted peer's entry, skipping further trusted hops, never what the client wrote before them", () => {
    const proxies = new TrustedProxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    // client → 10.0.0.5 (trusted) → 127.0.0.1 (trusted) → app; "6.6.6.6" is what the client itself sent.
    expect(proxies.clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.4, 10.0.0.5")).toBe("198.51.100.4");
    expect(proxies.clientAddress("::ffff:127.0.0.1", "198.51.100.4")).toBe("198.51.100.4");
    expect(proxies.clientAddress("fd00::1", "2001:db8::7")).toBe("2001:db8::7");
  });

  it("ignores x-forwarded-for from an untrusted peer", () => {
    const proxies = new TrustedProxies(["10.0.0.0/8"]);
    expect(proxies.clientAddress("203.0.113.9", "10.0.0.1")).toBe("203.0.113.9");
  });

  it("stops at the last trusted hop when every entry is trusted or one is not an address", () => {
    const proxies = new TrustedProxies(["10.0.0.0/8"]);
    expect(proxies.clientAddress("10.0.0.1", "10.0.0.2")).toBe("10.0.0.2");
    expect(proxies.clientAddress("10.0.0.1", "garbage")).toBe("10.0.0.1");
  });
});

describe("normalizeAddress", () => {
  it("unwraps IPv4-mapped, bracketed and zoned addresses", () => {
    expect(normalizeAddress("::FFFF:10.0.0.1")).toBe("10.0.0.1");
    expect(normalizeAddress("[2001:DB8::1]")).toBe("2001:db8::1");
    expect(normalizeAddress("fe80::1%eth0")).toBe("fe80::1");
  });
});
