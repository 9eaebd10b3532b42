import { describe, expect, it } from "vitest";
import { describeHttpFailure, parseRetryAfter } from "./apiError";

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

describe("parseRetryAfter", () => {
  it("reads delta-seconds", () => {
    expect(parseRetryAfter("3", NOW)).toBe(3);
    expect(parseRetryAfter(" 120 ", NOW)).toBe(120);
  });

  it("reads an HTTP date as seconds from now, rounded up, never negative", () => {
    expect(parseRetryAfter("Wed, 01 Jan 2025 12:00:10 GMT", NOW)).toBe(10);
    expect(parseRetryAfter("Wed, 01 Jan 2025 12:00:10 GMT", NOW + 9_500)).toBe(1);
    expect(parseRetryAfter("Wed, 01 Jan 2025 11:59:00 GMT", NOW)).toBe(0);
  });

  it("returns null for a missing or unreadable header", () => {
    expect(parseRetryAfter(null, NOW)).toBeNull();
    expect(parseRetryAfter("soon", NOW)).toBeNull();
    expect(parseRetryAfter("-5", NOW)).toBeNull();
  });
});

describe("describeHttpFailure", () => {
  const failure = { statusText: "", retryAfterHeader: null, nowMs: NOW };

  it("uses the server's code and message from a JSON error body", () => {
    const error = describeHttpFailure({
      ...failure,
      status: 400,
      bodyText: JSON.stringify({ error: { code: "unknown_image", message: "Image abc is not stored" } }),
    });
    expect(error.status).toBe(400);
    expect(error.code).toBe("unknown_image");
    expect(error.message).toBe("Image abc is not stored.");
    expect(error.retryAfterSeconds).toBeNull();
  });

  it("adds the wait from Retry-After on 429", () => {
    const error = describeHttpFailure({
      ...failure,
      status: 429,
      bodyText: JSON.stringify({ error: { code: "rate_limited", message: "Too many requests for this tenant." } }),
      retryAfterHeader: "7",
    });
    expect(error.code).toBe("rate_limited");
    expect(error.message).toBe("Too many requests for this tenant. Try again in 7 s.");
    expect(error.retryAfterSeconds).toBe(7);
  });

  it("says 'not ready' for a 503 without a JSON body and rounds a zero wait up to one second", () => {
    const error = describeHttpFailure({
      ...failure,
      status: 503,
      bodyText: "<html>down</html>",
      retryAfterHeader: "0",
    });
    expect(error.code).toBe("http_503");
    expect(error.message).toBe("The server is not ready yet. Try again in 1 s.");
  });

  it("names status and reason for other failures without a JSON body", () => {
    expect(describeHttpFailure({ ...failure, status: 502, statusText: "Bad Gateway", bodyText: "" }).message).toBe(
      "The server failed (502 Bad Gateway).",
    );
    expect(describeHttpFailure({ ...failure, status: 413, statusText: "", bodyText: "{}" }).message).toBe(
      "The request was rejected (413).",
    );
    expect(describeHttpFailure({ ...failure, status: 429, bodyText: "" }).message).toBe("Too many requests right now.");
  });

  it("ignores a JSON body whose error has the wrong shape", () => {
    const error = describeHttpFailure({
      ...failure,
      status: 500,
      statusText: "Internal Server Error",
      bodyText: '{"error":"boom"}',
    });
    expect(error.code).toBe("http_500");
    expect(error.message).toBe("The server failed (500 Internal Server Error).");
  });
});
