import { handleListModels } from "@/lib/server/openai/completions";
import { getRuntime } from "@/lib/server/runtime";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** OpenAI-compatible model list: the one model this server serves. */
export async function GET(request: Request): Promise<Response> {
  return handleListModels(request, await getRuntime());
}
