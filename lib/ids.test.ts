import { describe, expect, it } from "vitest";
import { parseImageId, parseTenantId } from "@/lib/ids";
import { imageKey } from "@/lib/cache/keys";

describe("ids", () => {
  it("accepts only 64 lowercase hex chars as an image id", () => {
    expect(parseImageId("a".repeat(64))).toBe("a".repeat(64));
    expect(parseImageId("A".repeat(64))).toBeNull();
    expect(parseImageId("a".repeat(63))).toBeNull();
    expect(parseImageId("../etc/passwd")).toBeNull();
  });

  it("accepts tenants from a key-safe alphabet only", () => {
    expect(parseTenantId("team-a_1")).toBe("team-a_1");
    expect(parseTenantId("Team")).toBeNull();
    expect(parseTenantId("a:b")).toBeNull();
    expect(parseTenantId("")).toBeNull();
  });

  it("builds versioned, tenant-scoped image keys", () => {
    const id = parseImageId("0".repeat(64))!;
    expect(imageKey(parseTenantId("public")!, id)).toBe(`vlc:v1:public:image:${"0".repeat(64)}`);
  });
});
