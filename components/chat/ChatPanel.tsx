"use client";

import { SettingsPanel } from "@/components/settings/SettingsPanel";
import type { Example } from "@/lib/client/examples";
import { ChatToolbar } from "./ChatToolbar";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";

/** The conversation column: its controls and settings, the transcript (examples while empty), the question box. */
export function ChatPanel({ examples, imagesPanel }: { examples: Example[]; imagesPanel: React.ReactNode }) {
  return (
    <section aria-label="Chat" className="flex min-h-0 flex-col gap-2 sm:gap-3">
      <div className="flex flex-wrap items-start gap-2">
        <ChatToolbar />
        <div className="min-w-0 flex-1">
          <SettingsPanel />
        </div>
      </div>
      <MessageList examples={examples} />
      <Composer imagesPanel={imagesPanel} />
    </section>
  );
}
