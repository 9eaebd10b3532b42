import type { ImageUploadResponse } from "@/lib/api/types";
import { describeHttpFailure, networkError } from "./apiError";

/**
 * POST /api/images with the file in field `image`, reporting how much of the body has gone out (`onProgress`, a
 * fraction 0–1). XMLHttpRequest, because fetch does not report upload progress. Resolves with the server's answer;
 * rejects with an ApiError.
 */
export function uploadImage(
  file: Blob,
  fileName: string,
  onProgress?: (fraction: number) => void,
): Promise<ImageUploadResponse> {
  const form = new FormData();
  form.append("image", file, fileName);
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/images");
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress?.(event.loaded / event.total);
    };
    request.onerror = () => reject(networkError());
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        try {
          resolve(JSON.parse(request.responseText) as ImageUploadResponse);
        } catch {
          reject(networkError());
        }
        return;
      }
      reject(
        describeHttpFailure({
          status: request.status,
          statusText: request.statusText,
          bodyText: request.responseText,
          retryAfterHeader: request.getResponseHeader("retry-after"),
          nowMs: Date.now(),
        }),
      );
    };
    request.send(form);
  });
}
