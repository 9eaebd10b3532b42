import { handleDeleteSession } from "@/lib/server/chat";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Forget a chat session: 204, or 404 when it is unknown. */
export async function DELETE(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await context.params;
  return handleDeleteSession(request, id, await getRuntime());
}
