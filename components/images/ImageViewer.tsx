"use client";

import { useEffect, useRef } from "react";
import { useStore } from "zustand";
import { imageRawUrl } from "@/components/gallery/ImageThumbnail";
import { imageViewerStore } from "./imageViewerStore";

/** The full-size view of one stored image, as a modal dialog (Esc, the Close button or a click beside it closes). */
export function ImageViewer() {
  const shown = useStore(imageViewerStore, (state) => state.shown);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (shown !== null && !element.open) element.showModal();
    if (shown === null && element.open) element.close();
  }, [shown]);

  return (
    <dialog
      ref={dialog}
      aria-label={shown === null ? "Image" : `Full size: ${shown.name}`}
      onClose={() => imageViewerStore.setState({ shown: null })}
      onClick={(event) => {
        if (event.target === event.currentTarget) event.currentTarget.close();
      }}
      className="m-auto max-h-[95dvh] max-w-[95vw] rounded-lg bg-white p-2 text-slate-900 shadow-xl backdrop:bg-black/70"
    >
      {shown !== null && (
        <figure className="space-y-2">
          <img
            src={imageRawUrl(shown.imageId)}
            alt={shown.name}
            className="max-h-[80dvh] max-w-[90vw] object-contain"
          />
          <figcaption className="flex items-center justify-between gap-4 text-sm">
            <span className="truncate">{shown.name}</span>
            <button
              type="button"
              onClick={() => dialog.current?.close()}
              className="rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100"
            >
              Close
            </button>
          </figcaption>
        </figure>
      )}
    </dialog>
  );
}
