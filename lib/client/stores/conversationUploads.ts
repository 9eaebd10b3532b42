/**
 * What a finished upload means for the conversation: a stored image joins the gallery and is attached to the next
 * question; a refusal prompts a health check (the server may be gone); once nothing is uploading any more, a Send
 * pressed meanwhile goes out. One subscription for the page, started by the chat page.
 */
import { chatStore } from "./chatStore";
import { galleryStore } from "./galleryStore";
import { recheckHealth } from "./healthStore";
import { uploadsInFlight, uploadStore, type UploadEntry } from "./uploadStore";

// Module-level, like the stores: remounting the page must not add (and attach) an upload twice.
const handled = new Set<number>();

function follow(entries: readonly UploadEntry[]): void {
  for (const entry of entries) {
    if (entry.state === "uploading" || handled.has(entry.localId)) continue;
    handled.add(entry.localId);
    if (entry.state === "stored") {
      galleryStore.getState().addUpload(entry.answer, entry.fileName);
      chatStore.getState().attach(entry.answer.imageId);
    } else {
      recheckHealth();
    }
  }
  if (uploadsInFlight(entries) === 0) chatStore.getState().uploadsSettled();
}

/** Starts following the upload store; returns the unsubscribe. */
export function followUploadsIntoConversation(): () => void {
  follow(uploadStore.getState().entries);
  return uploadStore.subscribe((state) => follow(state.entries));
}
