import type { ImageUploadResponse } from "@/lib/api/types";
import { apiErrorFromResponse, networkError } from "@/lib/client/apiError";

/** POST /api/images with the file in field `image`. Resolves with the server's answer; rejects with an ApiError. */
export async function uploadImage(file: Blob, fileName: string): Promise<ImageUploadResponse> {
  const form = new FormData();
  form.append("image", file, fileName);
  let response: Response;
  try {
    response = await fetch("/api/images", { method: "POST", body: form });
  } catch {
    throw networkError();
  }
  if (!response.ok) throw await apiErrorFromResponse(response);
  return (await response.json()) as ImageUploadResponse;
}
