import { metricsRegistry } from "@/lib/metrics/registry";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Prometheus text exposition of the process's one registry (lib/metrics/registry.ts). */
export async function GET(): Promise<Response> {
  // The runtime registers the store's and the model's metrics when it starts; make sure it has.
  await getRuntime();
  return new Response(await metricsRegistry.metrics(), {
    headers: { "content-type": metricsRegistry.contentType, "cache-control": "no-store" },
  });
}
