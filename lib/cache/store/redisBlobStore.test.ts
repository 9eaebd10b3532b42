import { describe, expect, it } from "vitest";
import { globEscape, redactRedisUrl } from "@/lib/cache/store/redisBlobStore";

describe("globEscape", () => {
  it("escapes every Redis glob metacharacter and nothing else", () => {
    expect(globEscape("vlc:v1:public:image:")).toBe("vlc:v1:public:image:");
    expect(globEscape("a*b?c[d]e\\f")).toBe("a\\*b\\?c\\[d\\]e\\\\f");
  });
});

describe("redactRedisUrl", () => {
  it("hides the password and keeps the rest", () => {
    expect(redactRedisUrl("redis://user:s3cret@db.local:6380/2")).toBe("redis://user:***@db.local:6380/2");
    expect(redactRedisUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
  });
});
