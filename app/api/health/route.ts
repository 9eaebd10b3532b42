import { getRuntime } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";

/** Liveness plus what the store is: `ok` while it is reachable, `degraded` (still 200: requests fail soft) otherwise. */
export async function GET(): Promise<Response> {
  const runtime = await getRuntime();
  const healthy = runtime.store.isHealthy();
  return Response.json(
    {
      status: healthy ? "ok" : "degraded",
      store: { mode: runtime.storeMode, healthy },
      uptimeSeconds: Math.round((Date.now() - runtime.startedAt.getTime()) / 1000),
    },
    { headers: { "cache-control": "no-store" } },
  );
}
