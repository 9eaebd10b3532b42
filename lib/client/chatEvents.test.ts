import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { metaSchema } from "./chatEvents";

const meta = (prefix: Record<string, unknown>) => ({
  sessionId: "sess-1",
  cache: { features: [], prefix, response: "miss" },
});

describe("metaSchema", () => {
  it("keeps the L2 tier that served the prefix, and accepts a meta event without one (older servers)", () => {
    expect(z.parse(metaSchema, meta({ reused: 128, total: 140, tier: "store" })).cache.prefix).toEqual({
      reused: 128,
      total: 140,
      tier: "store",
    });
    expect(z.parse(metaSchema, meta({ reused: 0, total: 12 })).cache.prefix).toEqual({ reused: 0, total: 12 });
  });

  it("refuses a tier it does not know", () => {
    expect(metaSchema.safeParse(meta({ reused: 5, total: 9, tier: "disk" })).success).toBe(false);
  });
});
