import { healthAnswer } from "@/lib/server/health";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * Liveness, the served model and the store's state (HealthResponse); always 200 while the process serves. `starting`
 * while the model loads, `degraded` while the store is unreachable or when the model failed to load (`modelError`).
 */
export async function GET(): Promise<Response> {
  const runtime = await getRuntime();
  const answer = healthAnswer({
    startedAt: runtime.startedAt,
    model: runtime.model.status,
    store: { mode: runtime.storeMode, healthy: runtime.store.isHealthy() && runtime.cacheStore.isHealthy() },
  });
  return Response.json(answer, { headers: { "cache-control": "no-store" } });
}
