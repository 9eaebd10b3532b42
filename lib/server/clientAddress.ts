/**
 * The client's address, as the rate limit keys it: the connection's peer, unless that peer is a proxy listed in
 * TRUSTED_PROXIES, in which case `x-forwarded-for` is read from the right (the entry the trusted peer appended) to
 * the left, skipping further trusted hops; the first untrusted entry is the client. A client can write what it likes
 * into x-forwarded-for, but only entries that a trusted hop vouched for are ever read, so without trusted proxies the
 * header is ignored entirely. Pure: no I/O.
 *
 * The app's HTTP server (server.ts) writes the result into CLIENT_ADDRESS_HEADER on every request, replacing whatever
 * the client sent under that name, and the route handlers read only that header (clientIdentity.ts).
 */

import { BlockList, isIP } from "node:net";

export const CLIENT_ADDRESS_HEADER = "x-vlcache-client-address";

/**
 * The client address server.ts resolved for a request; `unknown` without that server (`next start` run by hand), so
 * that every such client shares one rate-limit bucket and one failed-key count (failedKeys.ts): it fails closed, not
 * open.
 */
export function requestClientAddress(headers: Headers): string {
  return headers.get(CLIENT_ADDRESS_HEADER) || "unknown";
}

export class TrustedProxies {
  private readonly blocks = new BlockList();
  readonly size: number;

  /** `entries`: IPv4/IPv6 addresses and CIDR blocks, validated by lib/config.ts (TRUSTED_PROXIES). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.split("/");
      const family = isIP(address) === 6 ? "ipv6" : "ipv4";
      if (prefix === undefined) this.blocks.addAddress(address, family);
      else this.blocks.addSubnet(address, Number(prefix), family);
    }
    this.size = entries.length;
  }

  has(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.blocks.check(address, family === 6 ? "ipv6" : "ipv4");
  }

  /** The client's address for a connection from `peer` carrying `forwardedFor` (the x-forwarded-for header, if any). */
  clientAddress(peer: string | undefined, forwardedFor: string | undefined): string {
    let client = normalizeAddress(peer ?? "") || "unknown";
    if (this.size === 0 || forwardedFor === undefined) return client;
    const hops = forwardedFor.split(",").map((hop) => normalizeAddress(hop.trim()));
    while (this.has(client) && hops.length > 0) {
      const next = hops.pop()!;
      // A trusted hop that forwarded garbage names no client; the hop itself is the best we know.
      if (isIP(next) === 0) break;
      client = next;
    }
    return client;
  }
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`; a bracketed or zoned IPv6 loses both. */
export function normalizeAddress(address: string): string {
  const bare = address.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return (mapped ? mapped[1] : bare).toLowerCase();
}
