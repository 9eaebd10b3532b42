import { create } from "zustand";
import type { ImageUploadResponse } from "@/lib/api/types";
import { ApiError } from "@/lib/client/apiError";
import { uploadImage } from "./uploadImage";

/**
 * The upload panel's log: one entry per file the user gave (picked, dropped or pasted), newest first, from
 * "uploading" to either "stored" (with the server's answer) or "refused" (with its readable error).
 */
export type UploadEntry =
  | { localId: number; fileName: string; state: "uploading" }
  | { localId: number; fileName: string; state: "stored"; answer: ImageUploadResponse }
  | { localId: number; fileName: string; state: "refused"; error: { code: string; message: string } };

interface UploadState {
  entries: UploadEntry[];
  uploadFiles(files: readonly File[]): Promise<void>;
}

let nextLocalId = 1;

export const useUploadStore = create<UploadState>()((set) => {
  const settle = (localId: number, entry: UploadEntry) =>
    set((state) => ({ entries: state.entries.map((e) => (e.localId === localId ? entry : e)) }));

  async function uploadOne(file: File): Promise<void> {
    const localId = nextLocalId++;
    const fileName = file.name || "pasted image";
    set((state) => ({ entries: [{ localId, fileName, state: "uploading" }, ...state.entries] }));
    try {
      const answer = await uploadImage(file, fileName);
      settle(localId, { localId, fileName, state: "stored", answer });
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(null, "bad_response", String(error));
      settle(localId, { localId, fileName, state: "refused", error: { code: apiError.code, message: apiError.message } });
    }
  }

  return {
    entries: [],
    uploadFiles: async (files) => {
      await Promise.all(files.map(uploadOne));
    },
  };
});
