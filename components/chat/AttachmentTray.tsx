"use client";

import { useStore } from "zustand";
import { ImageThumbnail } from "@/components/gallery/ImageThumbnail";
import { useImageName } from "@/components/gallery/useImageName";
import type { ImageId } from "@/lib/ids";
import { chatStore } from "@/lib/client/stores/chatStore";
import { uploadStore } from "@/lib/client/stores/uploadStore";

function Attachment({ imageId }: { imageId: ImageId }) {
  const name = useImageName(imageId);
  return (
    <li className="relative">
      <ImageThumbnail imageId={imageId} name={name} size={48} />
      <button
        type="button"
        onClick={() => chatStore.getState().detach(imageId)}
        aria-label={`Remove ${name}`}
        className="absolute -top-1.5 -right-1.5 flex h-5 w-5 items-center justify-center rounded-full bg-slate-700 text-xs text-white hover:bg-slate-900"
      >
        ×
      </button>
    </li>
  );
}

/**
 * What goes with the next question: the attached images (each removable), the uploads still on their way (with
 * progress: Send waits for them), and, where the images panel is hidden (phones), uploads that were refused.
 */
export function AttachmentTray() {
  const attachments = useStore(chatStore, (state) => state.attachments);
  const entries = useStore(uploadStore, (state) => state.entries);
  const uploading = entries.filter((entry) => entry.state === "uploading");
  const refused = entries.filter((entry) => entry.state === "refused");
  if (attachments.length === 0 && uploading.length === 0 && refused.length === 0) return null;
  return (
    <div className="space-y-1 px-1 pb-2">
      {(attachments.length > 0 || uploading.length > 0) && (
        <ul aria-label="Attached images" data-testid="attachments" className="flex flex-wrap items-center gap-2">
          {attachments.map((id) => (
            <Attachment key={id} imageId={id} />
          ))}
          {uploading.map((entry) => (
            <li
              key={entry.localId}
              data-testid="pending-upload"
              className="flex w-40 flex-col gap-1 rounded border border-slate-200 px-2 py-1 text-xs text-slate-700"
            >
              <span className="truncate">Uploading {entry.fileName}…</span>
              <progress
                value={entry.progress}
                max={1}
                aria-label={`Uploading ${entry.fileName}`}
                className="h-1.5 w-full"
              />
            </li>
          ))}
        </ul>
      )}
      {refused.length > 0 && (
        <ul className="space-y-1 lg:hidden">
          {refused.slice(0, 2).map((entry) => (
            <li key={entry.localId} role="alert" className="text-xs text-red-800">
              <strong>{entry.fileName} was not accepted:</strong> {entry.error.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
