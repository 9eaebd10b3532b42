import { z } from "zod";
import { flushCaches } from "@/lib/cache/flush";
import { CACHE_LEVELS } from "@/lib/api/types";
import { DEFAULT_TENANT, parseTenantId } from "@/lib/ids";
import { admitAdmin, admitted } from "@/lib/server/apiGuard";
import { errorResponse } from "@/lib/server/httpErrors";
import { errorAnswer } from "@/lib/server/requestError";
import { getRuntime, type Runtime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const levelSchema = z.enum(["l1", "l2", "l3", "all"]).default("all");

/**
 * DELETE /api/admin/cache?level=l1|l2|l3|all&tenant=NAME (defaults: all, `public`): flushes that tenant's caches at
 * that level, for every model; see lib/cache/flush.ts. Needs ADMIN_API_KEY as a Bearer token (apiGuard.ts).
 * Answers `{tenant, flushed: {l1: {storeEntries, inProcess}, …}}`.
 */
export async function DELETE(request: Request): Promise<Response> {
  const app = await getRuntime();
  return admitted(
    app,
    () => admitAdmin(request, app),
    () => flush(request, app),
  );
}

async function flush(request: Request, app: Runtime): Promise<Response> {
  const query = new URL(request.url).searchParams;
  const level = levelSchema.safeParse(query.get("level") ?? undefined);
  if (!level.success) return errorResponse(400, "invalid_level", "level must be l1, l2, l3 or all");
  const tenant = query.has("tenant") ? parseTenantId(query.get("tenant")!) : DEFAULT_TENANT;
  if (tenant === null)
    return errorResponse(
      400,
      "invalid_tenant",
      "tenant must be 1 to 64 of a-z, 0-9, _ or - (starting with a letter or digit)",
    );
  const status = app.model.status;
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
