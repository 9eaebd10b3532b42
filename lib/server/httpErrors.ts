/**
 * Every error the HTTP API answers has one body shape, `{error: {code, message}}` (ApiErrorBody), and nothing else in
 * it: `code` is stable and machine-readable, `message` is for people.
 */

import type { ApiErrorBody } from "@/lib/api/types";

export function errorResponse(status: number, code: string, message: string, headers?: HeadersInit): Response {
  const body: ApiErrorBody = { error: { code, message } };
  return Response.json(body, { status, headers: { "cache-control": "no-store", ...headers } });
}

export const httpError = {
  invalidImageId: (value: string) =>
    errorResponse(400, "invalid_image_id", `"${value.slice(0, 80)}" is not an image id (64 lowercase hex characters)`),
  imageNotFound: (id: string) => errorResponse(404, "image_not_found", `No image with id ${id} (unknown or expired)`),
  internal: () => errorResponse(500, "internal_error", "The server failed to handle this request; see its log"),
};
