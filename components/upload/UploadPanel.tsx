"use client";

import { useEffect, useRef, useState, type DragEvent } from "react";
import { formatBytes, formatCount } from "@/lib/client/format";
import { UploadCard } from "./UploadCard";
import { useUploadStore } from "./uploadStore";

export interface UploadLimits {
  maxUploadBytes: number;
  maxImagePixels: number;
}

/**
 * Drop zone, file picker and clipboard paste, above the log of uploads. Every file given is sent as it is: the server
 * decides what it accepts and its refusal is shown.
 */
export function UploadPanel({ limits }: { limits: UploadLimits }) {
  const entries = useUploadStore((state) => state.entries);
  const uploadFiles = useUploadStore((state) => state.uploadFiles);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const files = Array.from(event.clipboardData?.files ?? []);
      if (files.length === 0) return;
      event.preventDefault();
      void uploadFiles(files);
    };
    window.addEventListener("paste", onPaste);
    return () => window.removeEventListener("paste", onPaste);
  }, [uploadFiles]);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    void uploadFiles(Array.from(event.dataTransfer.files));
  };

  return (
    <section className="space-y-4">
      <div
        data-testid="drop-zone"
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        className={`flex flex-col items-center gap-3 rounded-xl border-2 border-dashed p-8 text-center transition-colors ${
          dragging ? "border-sky-500 bg-sky-50" : "border-slate-300 bg-white"
        }`}
      >
        <p className="text-sm text-slate-700">Drop an image here, paste one (Ctrl+V), or</p>
        <button
          type="button"
          onClick={() => input.current?.click()}
          className="rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700"
        >
          Choose a file
        </button>
        <input
          ref={input}
          data-testid="file-input"
          type="file"
          accept="image/*"
          multiple
          className="hidden"
          onChange={(event) => {
            void uploadFiles(Array.from(event.target.files ?? []));
            event.target.value = "";
          }}
        />
        <p className="text-xs text-slate-500">
          JPEG, PNG, WebP, GIF, TIFF or AVIF · up to {formatBytes(limits.maxUploadBytes)} · up to{" "}
          {formatCount(limits.maxImagePixels)} pixels
        </p>
      </div>
      {entries.length > 0 && (
        <ul data-testid="upload-list" className="space-y-3">
          {entries.map((entry) => (
            <UploadCard key={entry.localId} entry={entry} />
          ))}
        </ul>
      )}
    </section>
  );
}
