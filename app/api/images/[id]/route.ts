import { withClient } from "@/lib/server/apiGuard";
import { handleImageGet } from "@/lib/server/images";
import { getRuntime } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";

/** Image metadata and status, or with `?raw=1` the canonical PNG, from the client's tenant. */
export async function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await context.params;
  const raw = ["1", "true"].includes(new URL(request.url).searchParams.get("raw") ?? "");
  const runtime = await getRuntime();
  return withClient(request, runtime, { rateLimited: false }, (client) =>
    handleImageGet(id, raw, runtime, client.tenant),
  );
}
