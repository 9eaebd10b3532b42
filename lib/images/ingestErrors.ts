/**
 * Every way an image upload can be refused, as one discriminated union: `code` is what clients branch on and
 * appears in the JSON body `{error: {code, message}}`. Every one is the request's fault; the HTTP status follows from
 * the code alone (lib/server/requestError.ts).
 *
 * Invariant: an upload that ends in one of these errors has changed nothing (nothing stored, nothing counted as an
 * image), because every check runs before the first write.
 */
export type IngestError =
  | { code: "not_multipart"; message: string }
  | { code: "malformed_multipart"; message: string }
  | { code: "empty_body"; message: string }
  | { code: "missing_image"; message: string }
  | { code: "empty_image"; message: string }
  | { code: "payload_too_large"; message: string; limitBytes: number }
  | { code: "unsupported_media_type"; message: string; detected: string }
  | { code: "invalid_image"; message: string; reason: string }
  | { code: "too_many_pixels"; message: string; width: number; height: number; limitPixels: number };

export type IngestErrorCode = IngestError["code"];

export const ingestError = {
  notMultipart: (contentType: string | null): IngestError => ({
    code: "not_multipart",
    message: `Expected a multipart/form-data body with the file in field "image", got ${contentType ?? "no Content-Type"}`,
  }),
  malformedMultipart: (reason: string): IngestError => ({
    code: "malformed_multipart",
    message: `The multipart body could not be parsed: ${reason}`,
  }),
  emptyBody: (): IngestError => ({ code: "empty_body", message: "The request body is empty" }),
  missingImage: (): IngestError => ({
    code: "missing_image",
    message: 'The multipart body has no file in field "image"',
  }),
  emptyImage: (): IngestError => ({ code: "empty_image", message: 'The file in field "image" is empty' }),
  payloadTooLarge: (limitBytes: number): IngestError => ({
    code: "payload_too_large",
    message: `The image is larger than the limit of ${limitBytes} bytes`,
    limitBytes,
  }),
  unsupported: (detected: string): IngestError => ({
    code: "unsupported_media_type",
    message: `${detected} files are not supported; send JPEG, PNG, WebP, GIF, TIFF or AVIF`,
    detected,
  }),
  notAnImage: (): IngestError => ({
    code: "invalid_image",
    message: "Not an image: the file does not start like any known image format",
    reason: "unrecognised format",
  }),
  undecodable: (format: string, reason: string): IngestError => ({
    code: "invalid_image",
    message: `The ${format.toUpperCase()} file could not be decoded (truncated or corrupt): ${reason}`,
    reason,
  }),
  tooManyPixels: (width: number, height: number, limitPixels: number): IngestError => ({
    code: "too_many_pixels",
    message: `The image is ${width}×${height} = ${width * height} pixels, more than the limit of ${limitPixels}`,
    width,
    height,
    limitPixels,
  }),
};
