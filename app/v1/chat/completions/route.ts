import { handleChatCompletions } from "@/lib/server/openai/completions";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** OpenAI-compatible chat completions, streaming (`stream: true`) or not; see lib/server/openai/. */
export async function POST(request: Request): Promise<Response> {
  return handleChatCompletions(request, await getRuntime());
}
