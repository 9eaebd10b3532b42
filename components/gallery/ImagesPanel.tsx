import { UploadPanel, type UploadLimits } from "@/components/upload/UploadPanel";
import { Gallery } from "./Gallery";

/** Left side of the chat page on desktop: the session's gallery and the ways to get images in. */
export function ImagesPanel({ uploadLimits }: { uploadLimits: UploadLimits }) {
  return (
    <aside aria-label="Images" className="space-y-5">
      <Gallery />
      <UploadPanel limits={uploadLimits} />
    </aside>
  );
}
