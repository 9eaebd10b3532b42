"use client";

import { useStore } from "zustand";
import { ImageThumbnail } from "@/components/gallery/ImageThumbnail";
import { chatStore } from "@/lib/client/stores/chatStore";
import { galleryStore } from "@/lib/client/stores/galleryStore";

/** The images that go with the next question, each removable. */
export function AttachmentTray() {
  const attachments = useStore(chatStore, (state) => state.attachments);
  const images = useStore(galleryStore, (state) => state.images);
  if (attachments.length === 0) return null;
  const nameOf = (id: string) => images.find((image) => image.imageId === id)?.name ?? `image ${id.slice(0, 8)}`;
  return (
    <ul aria-label="Attached images" data-testid="attachments" className="flex flex-wrap gap-2 px-1 pb-2">
      {attachments.map((id) => (
        <li key={id} className="relative">
          <ImageThumbnail imageId={id} alt={nameOf(id)} size={48} />
          <button
            type="button"
            onClick={() => chatStore.getState().detach(id)}
            aria-label={`Remove ${nameOf(id)}`}
            className="absolute -top-1.5 -right-1.5 flex h-5 w-5 items-center justify-center rounded-full bg-slate-700 text-xs text-white hover:bg-slate-900"
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
