/**
 * The session's gallery: every image uploaded on this page, newest first, with what the status chip says about its
 * vision features. One entry per image id — uploading the same pixels again refreshes the entry instead of adding one.
 *
 * What the chip claims comes from the server only: `encoding` and `ready` are the server's statuses, and a time is
 * shown only when the server measured one (`encodingMs` of GET /api/images/:id). A server without a model answers
 * `ready` at once for images it never encoded (no `encoding` phase, no duplicate); those read "not encoded".
 */
import type { ImageStatus, ImageUploadResponse } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";
import { formatDuration } from "./format";

export interface GalleryImage {
  imageId: ImageId;
  /** The file name the user gave, for alt text and titles. */
  name: string;
  width: number;
  height: number;
  bytes: number;
  status: ImageStatus;
  /** The server had these exact pixels already. */
  deduplicated: boolean;
  /** Features were ready in the upload's own answer because an earlier upload had computed them. */
  fromCache: boolean;
  /** The upload's answer said `encoding`: the server started computing the features at upload. */
  encodingStarted: boolean;
  /** How long the server took to encode the image, as it reported; null while unknown or never encoded. */
  encodingMs: number | null;
}

export function addUpload(images: GalleryImage[], upload: ImageUploadResponse, name: string): GalleryImage[] {
  const image: GalleryImage = {
    imageId: upload.imageId,
    name,
    width: upload.width,
    height: upload.height,
    bytes: upload.bytes,
    status: upload.status,
    deduplicated: upload.deduplicated,
    fromCache: upload.status === "ready" && upload.deduplicated,
    encodingStarted: upload.status === "encoding",
    encodingMs: null,
  };
  return [image, ...images.filter((existing) => existing.imageId !== upload.imageId)];
}

/** Records the server's latest status for `imageId`; an image once ready keeps its first reading. */
export function applyImageInfo(
  images: GalleryImage[],
  imageId: ImageId,
  info: { status: ImageStatus; encodingMs?: number },
): GalleryImage[] {
  return images.map((image) =>
    image.imageId === imageId && image.encodingMs === null
      ? { ...image, status: info.status, encodingMs: info.encodingMs ?? null }
      : image,
  );
}

export type ChipTone = "busy" | "ready" | "cached" | "idle";

export function statusChip(image: GalleryImage): { label: string; tone: ChipTone; title: string } {
  if (image.status === "encoding")
    return { label: "encoding…", tone: "busy", title: "The server is computing this image's vision features" };
  if (image.fromCache)
    return {
      label: "from cache",
      tone: "cached",
      title: "Same pixels as an earlier upload: its vision features were cached",
    };
  if (image.encodingMs !== null) {
    return {
      label: `ready in ${formatDuration(image.encodingMs)}`,
      tone: "ready",
      title: "Vision features computed at upload, timed by the server",
    };
  }
  if (image.encodingStarted)
    return { label: "ready", tone: "ready", title: "Vision features ready (the server did not time this encoding)" };
  return {
    label: "not encoded",
    tone: "idle",
    title:
      "The server did not encode this image at upload (no model loaded?): its features are computed when a question needs them",
  };
}
