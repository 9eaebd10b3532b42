import type { ImageId } from "@/lib/ids";

/** The stored canonical image, served by GET /api/images/:id?raw=1 (immutable, so the browser caches it). */
export function imageRawUrl(imageId: ImageId): string {
  return `/api/images/${imageId}?raw=1`;
}

export function ImageThumbnail({ imageId, alt, size }: { imageId: ImageId; alt: string; size: number }) {
  return (
    // A plain img: the thumbnails come from our own API and need no resizing pipeline.
    <img
      src={imageRawUrl(imageId)}
      alt={alt}
      width={size}
      height={size}
      className="shrink-0 rounded border border-slate-200 bg-white object-cover"
      style={{ width: size, height: size }}
    />
  );
}
