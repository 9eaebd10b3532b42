import { handleImageUpload } from "@/lib/server/images";
import { getRuntime } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";

/** Upload an image (multipart field `image`); see lib/server/images.ts. */
export async function POST(request: Request): Promise<Response> {
  return handleImageUpload(request, await getRuntime());
}
