import { handleChat } from "@/lib/server/chat";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** One chat turn, answered as Server-Sent Events (`meta`, `token`*, `done` | `error`); see lib/server/chat.ts. */
export async function POST(request: Request): Promise<Response> {
  return handleChat(request, await getRuntime());
}
