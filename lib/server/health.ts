import type { HealthResponse, StoreMode } from "@/lib/api/types";
import type { ModelStatus } from "./modelRuntime";

/**
 * GET /api/health's answer from the model's and the store's state. Pure. A failed model is `degraded` (not a
 * separate status, so clients that know the three statuses keep working) with `modelError` saying why.
 */
export function healthAnswer(input: {
  startedAt: Date;
  model: ModelStatus;
  store: { mode: StoreMode; healthy: boolean };
}): HealthResponse {
  const { model, store } = input;
  const status: HealthResponse["status"] =
    model.state === "loading" ? "starting" : model.state === "failed" || !store.healthy ? "degraded" : "ok";
  return {
    status,
    startedAt: input.startedAt.getTime(),
    model: model.state === "ready" ? model.served.info : null,
    ...(model.state === "failed" && { modelError: { code: model.code, message: model.message } }),
    redis: store,
  };
}
