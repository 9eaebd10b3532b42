/**
 * The session's gallery (see galleryImages.ts), plus the background watch that reads each new image's status from
 * GET /api/images/:id until the server reports it ready (with the encoding time it measured).
 */
import { createStore } from "zustand/vanilla";
import type { ImageUploadResponse } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";
import { fetchImageInfo } from "../apiResponses";
import { addUpload, applyImageInfo, type GalleryImage } from "../galleryImages";
import { startPolling } from "../polling";
import { recheckHealth } from "./healthStore";

export interface GalleryState {
  images: GalleryImage[];
  /** Records a finished upload and starts reading its status from the server. */
  addUpload(upload: ImageUploadResponse, name: string): void;
}

const FIRST_STATUS_POLL_MS = 150;
const MAX_STATUS_POLL_MS = 2_000;
/** An image still encoding after this long is left showing "encoding…" (the server may have dropped the job). */
const STATUS_WATCH_LIMIT_MS = 5 * 60_000;

export const galleryStore = createStore<GalleryState>()((set) => {
  const watched = new Set<ImageId>();

  function watchStatus(imageId: ImageId): void {
    if (watched.has(imageId)) return;
    watched.add(imageId);
    const started = Date.now();
    let delay = FIRST_STATUS_POLL_MS;
    startPolling(async (signal) => {
      try {
        const info = await fetchImageInfo(imageId, signal);
        set((state) => ({ images: applyImageInfo(state.images, imageId, info) }));
        if (info.status === "ready") {
          watched.delete(imageId);
          return null;
        }
      } catch {
        // A failed status read is retried; the chip keeps its last reading. The server may have gone away.
        recheckHealth();
      }
      if (Date.now() - started > STATUS_WATCH_LIMIT_MS) {
        watched.delete(imageId);
        return null;
      }
      delay = Math.min(MAX_STATUS_POLL_MS, delay * 1.5);
      return delay;
    });
  }

  return {
    images: [],
    addUpload(upload, name) {
      set((state) => ({ images: addUpload(state.images, upload, name) }));
      if (!(upload.status === "ready" && upload.deduplicated)) watchStatus(upload.imageId);
    },
  };
});
