import { describe, expect, it } from "vitest";
import { healthAnswer } from "./health";
import type { ModelStatus, ServedModel } from "./modelRuntime";

const startedAt = new Date(1_700_000_000_000);
const info = { name: "random-tiny-seed0", isRandomTestModel: true, executionProvider: "cpu" as const };
const ready: ModelStatus = { state: "ready", served: { info } as ServedModel };
const healthyRedis = { mode: "external" as const, healthy: true };

describe("healthAnswer", () => {
  it("is ok with a loaded model and a healthy store, naming the model", () => {
    expect(healthAnswer({ startedAt, model: ready, store: healthyRedis })).toEqual({
      status: "ok",
      startedAt: 1_700_000_000_000,
      model: info,
      redis: healthyRedis,
    });
  });

  it("is starting while the model loads", () => {
    expect(
      healthAnswer({ startedAt, model: { state: "loading", bundleDir: "/m" }, store: healthyRedis }),
    ).toMatchObject({ status: "starting", model: null });
  });

  it("is degraded with the store down", () => {
    const store = { mode: "embedded" as const, healthy: false };
    expect(healthAnswer({ startedAt, model: ready, store })).toMatchObject({
      status: "degraded",
      model: info,
      redis: store,
    });
  });

  it("is degraded with the reason when the model failed to load", () => {
    const failed: ModelStatus = {
      state: "failed",
      code: "bundle_missing_file",
      message: "cannot load model bundle: /m/config.json: ENOENT",
    };
    expect(healthAnswer({ startedAt, model: failed, store: healthyRedis })).toEqual({
      status: "degraded",
      startedAt: 1_700_000_000_000,
      model: null,
      modelError: { code: "bundle_missing_file", message: "cannot load model bundle: /m/config.json: ENOENT" },
      redis: healthyRedis,
    });
  });
});
