"use client";

import { ChatPanel } from "@/components/chat/ChatPanel";
import { ExamplesRow } from "@/components/examples/ExamplesRow";
import { ImagesPanel } from "@/components/gallery/ImagesPanel";
import { ChatHistory } from "@/components/history/ChatHistory";
import type { UploadLimits } from "@/components/upload/UploadPanel";
import type { Example } from "@/lib/client/examples";
import { ConnectionBanner } from "./ConnectionBanner";
import { Header } from "./Header";

/** The chat page: past chats, images, then the conversation with examples under the question box. */
export function ChatWorkbench({ examples, uploadLimits }: { examples: Example[]; uploadLimits: UploadLimits }) {
  return (
    <div className="flex h-screen flex-col">
      <Header current="chat" />
      <ConnectionBanner />
      <div className="flex min-h-0 flex-1 flex-col lg:flex-row">
        <ChatHistory />
        <main className="grid min-h-0 min-w-0 flex-1 grid-cols-1 gap-4 p-4 lg:grid-cols-[400px_minmax(0,1fr)]">
          <div className="min-h-0 overflow-y-auto pr-1">
            <ImagesPanel uploadLimits={uploadLimits} />
          </div>
          <ChatPanel>
            <ExamplesRow examples={examples} />
          </ChatPanel>
        </main>
      </div>
    </div>
  );
}
