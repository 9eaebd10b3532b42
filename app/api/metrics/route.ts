import { metricsRegistry } from "@/lib/metrics/registry";
import { withMetricsReader } from "@/lib/server/apiGuard";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Prometheus text exposition of the process's one registry (lib/metrics/registry.ts); METRICS_API_KEY closes it. */
export async function GET(request: Request): Promise<Response> {
  // The runtime registers the store's and the model's metrics when it starts; make sure it has.
  const app = await getRuntime();
  return withMetricsReader(
    request,
    app,
    async () =>
      new Response(await metricsRegistry.metrics(), {
        headers: { "content-type": metricsRegistry.contentType, "cache-control": "no-store" },
      }),
  );
}
