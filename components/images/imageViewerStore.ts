import { createStore } from "zustand/vanilla";
import type { ImageId } from "@/lib/ids";

/** Which stored image the full-size viewer shows, if any: any thumbnail on the page can open it. */
export const imageViewerStore = createStore<{ shown: { imageId: ImageId; name: string } | null }>()(() => ({
  shown: null,
}));

export function showFullSize(imageId: ImageId, name: string): void {
  imageViewerStore.setState({ shown: { imageId, name } });
}
