/**
 * Uploads in progress and their outcomes: one entry per file the user gave (picked, dropped, pasted or an example),
 * newest first, from "uploading" (with the share of the body sent) to either "stored" (with the server's answer) or
 * "refused" (with its readable error). What happens to a stored image (gallery, attachment) is decided by whoever
 * subscribes (lib/client/stores/conversationUploads.ts); this store only uploads.
 */
import { createStore } from "zustand/vanilla";
import type { ImageUploadResponse } from "@/lib/api/types";
import { ApiError } from "../apiError";
import { uploadImage } from "../uploadImage";

export type UploadEntry =
  | { localId: number; fileName: string; state: "uploading"; progress: number }
  | { localId: number; fileName: string; state: "stored"; answer: ImageUploadResponse }
  | { localId: number; fileName: string; state: "refused"; error: { code: string; message: string } };

export interface UploadState {
  entries: UploadEntry[];
  uploadFiles(files: readonly File[]): Promise<void>;
}

export function uploadsInFlight(entries: readonly UploadEntry[]): number {
  return entries.filter((entry) => entry.state === "uploading").length;
}

let nextLocalId = 1;

export const uploadStore = createStore<UploadState>()((set) => {
  const update = (localId: number, entry: UploadEntry) =>
    set((state) => ({ entries: state.entries.map((e) => (e.localId === localId ? entry : e)) }));

  async function uploadOne(file: File): Promise<void> {
    const localId = nextLocalId++;
    const fileName = file.name || "pasted image";
    set((state) => ({ entries: [{ localId, fileName, state: "uploading", progress: 0 }, ...state.entries] }));
    try {
      const answer = await uploadImage(file, fileName, (progress) =>
        update(localId, { localId, fileName, state: "uploading", progress }),
      );
      update(localId, { localId, fileName, state: "stored", answer });
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(null, "bad_response", String(error));
      update(localId, {
        localId,
        fileName,
        state: "refused",
        error: { code: apiError.code, message: apiError.message },
      });
    }
  }

  return {
    entries: [],
    uploadFiles: async (files) => {
      await Promise.all(files.map(uploadOne));
    },
  };
});
