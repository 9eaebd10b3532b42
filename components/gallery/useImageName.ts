"use client";

import { useStore } from "zustand";
import type { ImageId } from "@/lib/ids";
import { galleryStore } from "@/lib/client/stores/galleryStore";

/** The name the user gave an image (from the gallery), or a short form of its id when the gallery does not know it. */
export function useImageName(imageId: ImageId): string {
  return useStore(
    galleryStore,
    (state) => state.images.find((image) => image.imageId === imageId)?.name ?? `image ${imageId.slice(0, 8)}`,
  );
}
