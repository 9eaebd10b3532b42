"use client";

import { useEffect } from "react";
import { ChatPanel } from "@/components/chat/ChatPanel";
import { ImagesPanel } from "@/components/gallery/ImagesPanel";
import { ImageViewer } from "@/components/images/ImageViewer";
import { PageImageInput } from "@/components/images/PageImageInput";
import type { UploadLimits } from "@/components/upload/UploadPanel";
import type { Example } from "@/lib/client/examples";
import { followUploadsIntoConversation } from "@/lib/client/stores/conversationUploads";
import { ConnectionBanner } from "./ConnectionBanner";
import { Header } from "./Header";

/**
 * The chat page. Desktop (lg and up): the images panel on the left, the conversation on the right. Below that, one
 * full-height column: the conversation, with the composer kept at the bottom; images come in through the composer's
 * attach button, a drop anywhere or a paste, the images panel opens from the composer's Images button, and the
 * examples sit in the empty conversation.
 *
 * `historySidebar` is the slot for the chat history list: a left column on desktop, before the images panel.
 */
export function ChatWorkbench({
  examples,
  uploadLimits,
  historySidebar,
}: {
  examples: Example[];
  uploadLimits: UploadLimits;
  historySidebar?: React.ReactNode;
}) {
  useEffect(followUploadsIntoConversation, []);
  return (
    <div className="flex h-dvh flex-col">
      <Header current="chat" />
      <ConnectionBanner />
      <div className="flex min-h-0 flex-1">
        {historySidebar !== undefined && (
          <div data-slot="history-sidebar" className="hidden min-h-0 w-64 shrink-0 overflow-y-auto border-r border-slate-200 lg:block">
            {historySidebar}
          </div>
        )}
        <main className="grid min-h-0 flex-1 grid-cols-1 gap-4 p-2 sm:p-4 lg:grid-cols-[360px_minmax(0,1fr)]">
          <div className="hidden min-h-0 overflow-y-auto pr-1 lg:block">
            <ImagesPanel uploadLimits={uploadLimits} />
          </div>
          <ChatPanel examples={examples} imagesPanel={<ImagesPanel uploadLimits={uploadLimits} />} />
        </main>
      </div>
      <PageImageInput />
      <ImageViewer />
    </div>
  );
}
