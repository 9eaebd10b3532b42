"use client";

import { SettingsPanel } from "@/components/settings/SettingsPanel";
import { ChatToolbar } from "./ChatToolbar";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";

/** Right side of the chat page: the conversation, its controls and settings, and the question box. */
export function ChatPanel({ children }: { children?: React.ReactNode }) {
  return (
    <section aria-label="Chat" className="flex min-h-0 flex-col gap-3">
      <ChatToolbar />
      <SettingsPanel />
      <MessageList />
      <Composer />
      {children}
    </section>
  );
}
