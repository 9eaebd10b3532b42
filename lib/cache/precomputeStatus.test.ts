import { describe, expect, it } from "vitest";
import { PrecomputeStatus } from "@/lib/cache/precomputeStatus";

describe("PrecomputeStatus", () => {
  it("reports encoding → ready with the time when encoded here, null when found elsewhere", () => {
    const status = new PrecomputeStatus();
    expect(status.state("a")).toBeNull();
    const settleA = status.start("a");
    expect(status.isEncoding("a")).toBe(true);
    expect(status.state("a")?.status).toBe("encoding");
    settleA({ computedHere: true });
    const ready = status.state("a");
    expect(ready?.status === "ready" && ready.encodingMs !== null && ready.encodingMs >= 0).toBe(true);
    expect(status.isEncoding("a")).toBe(false);

    status.start("b")({ computedHere: false });
    expect(status.state("b")).toEqual({ status: "ready", encodingMs: null });
    status.start("c")(null);
    expect(status.state("c")).toEqual({ status: "ready", encodingMs: null });
  });

  it("lets exactly one request claim a precompute's features as `precomputed`", () => {
    const status = new PrecomputeStatus();
    expect(status.claimFirstServe("a")).toBe(false);
    status.start("a")({ computedHere: true });
    expect([status.claimFirstServe("a"), status.claimFirstServe("a")]).toEqual([true, false]);
  });
});
