import { z } from "zod";
import { flushCaches } from "@/lib/cache/flush";
import { CACHE_LEVELS } from "@/lib/api/types";
import { identifyClient } from "@/lib/server/clientIdentity";
import { errorResponse } from "@/lib/server/httpErrors";
import { errorAnswer } from "@/lib/server/requestError";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const levelSchema = z.enum(["l1", "l2", "l3", "all"]).default("all");

/**
 * DELETE /api/admin/cache?level=l1|l2|l3|all (default all): flushes the caller's tenant — named by its API key, or the
 * x-vlcache-tenant header, else `public` — at that level, for every model; see lib/cache/flush.ts.
 * Answers `{tenant, flushed: {l1: {storeEntries, inProcess}, …}}`.
 */
export async function DELETE(request: Request): Promise<Response> {
  const app = await getRuntime();
  const client = identifyClient(request.headers, app.config.apiKeys);
  if (!client.ok) return errorResponse(client.status, client.code, client.message);
  const level = levelSchema.safeParse(new URL(request.url).searchParams.get("level") ?? undefined);
  if (!level.success) return errorResponse(400, "invalid_level", "level must be l1, l2, l3 or all");
  const status = app.model.status;
  const tenant = client.identity.tenant;
  try {
    const flushed = await flushCaches(
      { store: app.cacheStore, levels: status.state === "ready" ? status.served.caches : null },
      tenant,
      level.data === "all" ? CACHE_LEVELS : [level.data],
    );
    app.logger.info({ tenant, cacheLevel: level.data, flushed }, "cache flushed");
    return Response.json({ tenant, flushed }, { headers: { "cache-control": "no-store" } });
  } catch (error) {
    // The store could not be flushed (503 store_unavailable): saying 200 would claim entries gone that are not.
    return errorAnswer(error, app.logger.child({ module: "admin" }));
  }
}
