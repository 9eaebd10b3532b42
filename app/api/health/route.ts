import type { HealthResponse } from "@/lib/api/types";
import { getRuntime } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";

/**
 * Liveness and the store's state; always 200 while the process serves. `degraded` while the store is unreachable
 * (requests still succeed, failing soft). `model` stays null until the engine is wired in.
 */
export async function GET(): Promise<Response> {
  const runtime = await getRuntime();
  const healthy = runtime.store.isHealthy();
  const answer: HealthResponse = {
    status: healthy ? "ok" : "degraded",
    startedAt: runtime.startedAt.getTime(),
    model: null,
    redis: { mode: runtime.storeMode, healthy },
  };
  return Response.json(answer, { headers: { "cache-control": "no-store" } });
}
