"use client";

import { useEffect, useRef } from "react";
import { useStore } from "zustand";
import { chatStore } from "@/lib/client/stores/chatStore";
import { AnswerBubble } from "./AnswerBubble";
import { QuestionBubble } from "./QuestionBubble";

/** Distance from the bottom (px) within which the list keeps following a streaming answer. */
const FOLLOW_THRESHOLD_PX = 80;

/** The conversation, following the newest text unless the reader has scrolled up. */
export function MessageList() {
  const turns = useStore(chatStore, (state) => state.turns);
  const scroller = useRef<HTMLDivElement>(null);
  const following = useRef(true);

  useEffect(() => {
    const element = scroller.current;
    if (element !== null && following.current) element.scrollTop = element.scrollHeight;
  }, [turns]);

  return (
    <div
      ref={scroller}
      onScroll={(event) => {
        const element = event.currentTarget;
        following.current = element.scrollHeight - element.scrollTop - element.clientHeight < FOLLOW_THRESHOLD_PX;
      }}
      className="min-h-0 flex-1 overflow-y-auto px-1"
      aria-label="Conversation"
      role="log"
    >
      {turns.length === 0 ? (
        <div className="flex h-full items-center justify-center text-center text-sm text-slate-500">
          <p>
            Upload an image or pick an example below, then ask a question about it.
            <br />
            Ask again and watch the badges: cached work shows up in green.
          </p>
        </div>
      ) : (
        <ol className="space-y-4 py-2">
          {turns.map((turn) => (
            <li key={turn.id} className="space-y-2">
              <QuestionBubble question={turn.question} />
              <AnswerBubble turn={turn} />
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
