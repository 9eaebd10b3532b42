"use client";

import { useRef } from "react";
import { useStore } from "zustand";
import { formatBytes, formatCount } from "@/lib/client/format";
import { uploadStore, type UploadEntry } from "@/lib/client/stores/uploadStore";
import { ImageFileInput } from "./ImageFileInput";
import { UploadCard } from "./UploadCard";

export interface UploadLimits {
  maxUploadBytes: number;
  maxImagePixels: number;
}

/**
 * The desktop panel's way in for images: a file picker, with what the server accepts, above the uploads still on their
 * way and the refused ones. Drops and pastes anywhere on the page land in the same upload store.
 */
export function UploadPanel({ limits }: { limits: UploadLimits }) {
  const entries = useStore(uploadStore, (state) => state.entries);
  const input = useRef<HTMLInputElement>(null);
  // Stored images show in the gallery; the cards are for uploads on their way and refusals.
  const notStored = entries.filter(
    (entry): entry is Exclude<UploadEntry, { state: "stored" }> => entry.state !== "stored",
  );

  return (
    <section className="space-y-3">
      <div
        data-testid="drop-zone"
        className="flex flex-col items-center gap-2 rounded-xl border-2 border-dashed border-slate-300 bg-white p-5 text-center"
      >
        <p className="text-sm text-slate-700">Drop images anywhere on the page, paste one (Ctrl+V), or</p>
        <button
          type="button"
          onClick={() => input.current?.click()}
          className="rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700"
        >
          Choose a file
        </button>
        <ImageFileInput ref={input} testId="file-input" />
        <p className="text-xs text-slate-600">
          JPEG, PNG, WebP, GIF, TIFF or AVIF · up to {formatBytes(limits.maxUploadBytes)} · up to{" "}
          {formatCount(limits.maxImagePixels)} pixels
        </p>
      </div>
      {notStored.length > 0 && (
        <ul data-testid="upload-list" className="space-y-2">
          {notStored.map((entry) => (
            <UploadCard key={entry.localId} entry={entry} />
          ))}
        </ul>
      )}
    </section>
  );
}
