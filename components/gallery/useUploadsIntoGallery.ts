"use client";

import { useEffect } from "react";
import { useUploadStore } from "@/components/upload/uploadStore";
import { chatStore } from "@/lib/client/stores/chatStore";
import { galleryStore } from "@/lib/client/stores/galleryStore";

// Module-level, like the stores they feed: navigating away and back must not add (and attach) an upload twice.
const startedAt = new Map<number, number>();
const settled = new Set<number>();

function syncUploads(): void {
  for (const entry of useUploadStore.getState().entries) {
    if (!startedAt.has(entry.localId)) startedAt.set(entry.localId, Date.now());
    if (entry.state !== "stored" || settled.has(entry.localId)) continue;
    settled.add(entry.localId);
    galleryStore.getState().addUpload(entry.answer, entry.fileName, startedAt.get(entry.localId) ?? Date.now());
    chatStore.getState().attach(entry.answer.imageId);
  }
}

/**
 * Feeds the upload panel's results into the gallery and attaches each new image to the next question.
 * The upload store's entries carry no timestamps, so the moment an entry first shows up (as "uploading", added right
 * before it is sent) is taken as its start; "ready in N ms" counts from there.
 */
export function useUploadsIntoGallery(): void {
  useEffect(() => {
    syncUploads();
    return useUploadStore.subscribe(syncUploads);
  }, []);
}
