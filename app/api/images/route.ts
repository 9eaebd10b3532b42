import { withClient } from "@/lib/server/apiGuard";
import { handleImageUpload } from "@/lib/server/images";
import { getRuntime } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";

/** Upload an image (multipart field `image`) into the client's tenant; rate-limited. See lib/server/images.ts. */
export async function POST(request: Request): Promise<Response> {
  const runtime = await getRuntime();
  return withClient(request, runtime, { rateLimited: true }, (client) =>
    handleImageUpload(request, runtime, client.tenant),
  );
}
