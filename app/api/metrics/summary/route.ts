import { buildMetricsSummary } from "@/lib/metrics/summary";
import { withMetricsReader } from "@/lib/server/apiGuard";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The cache metrics as the MetricsSummary JSON the /metrics page draws (lib/metrics/summary.ts); METRICS_API_KEY closes it. */
export async function GET(request: Request): Promise<Response> {
  const app = await getRuntime();
  return withMetricsReader(request, app, async () =>
    Response.json(await buildMetricsSummary({ startedAt: app.startedAt }), {
      headers: { "cache-control": "no-store" },
    }),
  );
}
