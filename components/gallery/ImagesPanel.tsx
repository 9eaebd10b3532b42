"use client";

import { UploadPanel, type UploadLimits } from "@/components/upload/UploadPanel";
import { Gallery } from "./Gallery";
import { useUploadsIntoGallery } from "./useUploadsIntoGallery";

/** Left side of the chat page: getting images in (drop, pick, paste) and the session's gallery. */
export function ImagesPanel({ uploadLimits }: { uploadLimits: UploadLimits }) {
  useUploadsIntoGallery();
  return (
    <aside aria-label="Images" className="space-y-5">
      <Gallery />
      <UploadPanel limits={uploadLimits} />
    </aside>
  );
}
