/**
 * The session's gallery: every image uploaded on this page, newest first, with what the status chip says about its
 * vision features. One entry per image id — uploading the same pixels again refreshes the entry instead of adding one.
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
  /** Milliseconds from the start of the upload until the features were ready; null while encoding or from cache. */
  readyAfterMs: number | null;
  uploadStartedAt: number;
}

export function addUpload(
  images: GalleryImage[],
  upload: ImageUploadResponse,
  name: string,
  uploadStartedAt: number,
  now: number,
): GalleryImage[] {
  const ready = upload.status === "ready";
  const fromCache = ready && upload.deduplicated;
  const image: GalleryImage = {
    imageId: upload.imageId,
    name,
    width: upload.width,
    height: upload.height,
    bytes: upload.bytes,
    status: upload.status,
    deduplicated: upload.deduplicated,
    fromCache,
    readyAfterMs: ready && !fromCache ? now - uploadStartedAt : null,
    uploadStartedAt,
  };
  return [image, ...images.filter((existing) => existing.imageId !== upload.imageId)];
}

/** Records that the server finished encoding `imageId`; images already ready keep their first reading. */
export function markReady(images: GalleryImage[], imageId: ImageId, now: number): GalleryImage[] {
  return images.map((image) =>
    image.imageId === imageId && image.status === "encoding"
      ? { ...image, status: "ready", readyAfterMs: now - image.uploadStartedAt }
      : image,
  );
}

export type ChipTone = "busy" | "ready" | "cached";

export function statusChip(image: GalleryImage): { label: string; tone: ChipTone } {
  if (image.status === "encoding") return { label: "encoding…", tone: "busy" };
  if (image.fromCache || image.readyAfterMs === null) return { label: "from cache", tone: "cached" };
  return { label: `ready in ${formatDuration(image.readyAfterMs)}`, tone: "ready" };
}
