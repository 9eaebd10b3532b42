"use client";

import { useEffect } from "react";
import { ChatPanel } from "@/components/chat/ChatPanel";
import { ImagesPanel } from "@/components/gallery/ImagesPanel";
import { ChatHistory } from "@/components/history/ChatHistory";
import { ImageViewer } from "@/components/images/ImageViewer";
import { PageImageInput } from "@/components/images/PageImageInput";
import type { UploadLimits } from "@/components/upload/UploadPanel";
import type { Example } from "@/lib/client/examples";
import { followUploadsIntoConversation } from "@/lib/client/stores/conversationUploads";
import { ConnectionBanner } from "./ConnectionBanner";
import { Header } from "./Header";

/**
 * The chat page. Desktop (lg and up): past chats on the left, then the images panel and the conversation. Below that,
 * one full-height column: the conversation, with the composer kept at the bottom; past chats open from the Chats
 * button above it, images come in through the composer's attach button, a drop anywhere or a paste, the images panel
 * opens from the composer's Images button, and the examples sit in the empty conversation.
 */
export function ChatWorkbench({ examples, uploadLimits }: { examples: Example[]; uploadLimits: UploadLimits }) {
  useEffect(followUploadsIntoConversation, []);
  return (
    <div className="flex h-dvh flex-col">
      <Header current="chat" />
      <ConnectionBanner />
      <div className="flex min-h-0 flex-1 flex-col lg:flex-row">
        <ChatHistory />
        <main className="grid min-h-0 min-w-0 flex-1 grid-cols-1 gap-4 p-2 sm:p-4 lg:grid-cols-[360px_minmax(0,1fr)]">
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
