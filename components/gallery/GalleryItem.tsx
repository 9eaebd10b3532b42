"use client";

import { useStore } from "zustand";
import { formatBytes } from "@/lib/client/format";
import type { GalleryImage } from "@/lib/client/galleryImages";
import { chatStore } from "@/lib/client/stores/chatStore";
import { ImageThumbnail } from "./ImageThumbnail";
import { StatusChip } from "./StatusChip";

/** One image of the session: thumbnail, status chip, size, and a toggle attaching it to the next question. */
export function GalleryItem({ image }: { image: GalleryImage }) {
  const attached = useStore(chatStore, (state) => state.attachments.includes(image.imageId));
  const toggle = () =>
    attached ? chatStore.getState().detach(image.imageId) : chatStore.getState().attach(image.imageId);
  return (
    <li
      data-testid="gallery-item"
      data-image-id={image.imageId}
      className={`flex items-center gap-3 rounded-lg border bg-white p-2 ${attached ? "border-blue-400 ring-1 ring-blue-300" : "border-slate-200"}`}
    >
      <ImageThumbnail imageId={image.imageId} name={image.name} size={56} />
      <div className="min-w-0 flex-1 space-y-1">
        <p className="truncate text-sm font-medium" title={`${image.name} · id ${image.imageId}`}>
          {image.name}
        </p>
        <div className="flex flex-wrap items-center gap-1.5">
          <StatusChip image={image} />
          {image.deduplicated && (
            <span
              data-testid="gallery-duplicate"
              title="Same pixels as an image already stored: nothing new was kept"
              className="rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-800"
            >
              duplicate
            </span>
          )}
          <span data-testid="gallery-size" className="text-xs text-slate-600">
            {image.width} × {image.height} px · {formatBytes(image.bytes)}
          </span>
        </div>
      </div>
      <button
        type="button"
        onClick={toggle}
        aria-pressed={attached}
        className={`rounded-md px-2.5 py-1 text-xs font-medium ${
          attached
            ? "bg-blue-600 text-white hover:bg-blue-700"
            : "border border-slate-300 text-slate-700 hover:bg-slate-100"
        }`}
      >
        {attached ? "Attached" : "Attach"}
        <span className="sr-only"> {image.name}</span>
      </button>
    </li>
  );
}
