/**
 * The session's gallery (see galleryImages.ts), plus the background watch that flips an image from "encoding…" to
 * "ready" by polling GET /api/images/:id until the server reports its features ready.
 */
import { createStore } from "zustand/vanilla";
import type { ImageUploadResponse } from "@/lib/api/types";
import type { ImageId } from "@/lib/ids";
import { fetchImageInfo } from "../apiResponses";
import { addUpload, markReady, type GalleryImage } from "../galleryImages";
import { startPolling } from "../polling";

export interface GalleryState {
  images: GalleryImage[];
  /** Records a finished upload; starts watching it when its features are still being computed. */
  addUpload(upload: ImageUploadResponse, name: string, uploadStartedAt: number): void;
}

const FIRST_STATUS_POLL_MS = 150;
const MAX_STATUS_POLL_MS = 2_000;
/** An image still encoding after this long is left showing "encoding…" (the server may have dropped the job). */
const STATUS_WATCH_LIMIT_MS = 5 * 60_000;

export const galleryStore = createStore<GalleryState>()((set) => {
  const watched = new Set<ImageId>();

  function watchEncoding(imageId: ImageId): void {
    if (watched.has(imageId)) return;
    watched.add(imageId);
    const started = Date.now();
    let delay = FIRST_STATUS_POLL_MS;
    startPolling(async (signal) => {
      try {
        const info = await fetchImageInfo(imageId, signal);
        if (info.status === "ready") {
          set((state) => ({ images: markReady(state.images, imageId, Date.now()) }));
          watched.delete(imageId);
          return null;
        }
      } catch {
        // A failed status read is retried like an "encoding" answer; the chip keeps saying "encoding…".
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
    addUpload(upload, name, uploadStartedAt) {
      set((state) => ({ images: addUpload(state.images, upload, name, uploadStartedAt, Date.now()) }));
      if (upload.status === "encoding") watchEncoding(upload.imageId);
    },
  };
});
