"use client";

import { showFullSize } from "@/components/images/imageViewerStore";
import type { ImageId } from "@/lib/ids";

/** The stored canonical image, served by GET /api/images/:id?raw=1 (immutable, so the browser caches it). */
export function imageRawUrl(imageId: ImageId): string {
  return `/api/images/${imageId}?raw=1`;
}

/** A square thumbnail of a stored image; a click opens it full size. */
export function ImageThumbnail({ imageId, name, size }: { imageId: ImageId; name: string; size: number }) {
  return (
    <button
      type="button"
      onClick={() => showFullSize(imageId, name)}
      aria-label={`View full size: ${name}`}
      className="shrink-0 rounded focus-visible:ring-2 focus-visible:ring-blue-500"
    >
      {/* A plain img: the thumbnails come from our own API and need no resizing pipeline. */}
      <img
        src={imageRawUrl(imageId)}
        alt=""
        width={size}
        height={size}
        className="rounded border border-slate-200 bg-white object-cover"
        style={{ width: size, height: size }}
      />
    </button>
  );
}
