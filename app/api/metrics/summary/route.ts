import { buildMetricsSummary } from "@/lib/metrics/summary";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The cache metrics as the MetricsSummary JSON the /metrics page draws (lib/metrics/summary.ts). */
export async function GET(): Promise<Response> {
  const { startedAt } = await getRuntime();
  return Response.json(await buildMetricsSummary({ startedAt }), { headers: { "cache-control": "no-store" } });
}
