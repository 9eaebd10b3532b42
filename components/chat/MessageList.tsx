"use client";

import { useEffect, useRef, useState } from "react";
import { useStore } from "zustand";
import { ExamplesRow } from "@/components/examples/ExamplesRow";
import type { Example } from "@/lib/client/examples";
import type { ImageId } from "@/lib/ids";
import { chatStore } from "@/lib/client/stores/chatStore";
import { AnswerBubble } from "./AnswerBubble";
import { QuestionBubble } from "./QuestionBubble";

/** Distance from the bottom (px) within which the list keeps following a streaming answer. */
const FOLLOW_THRESHOLD_PX = 80;

/**
 * The conversation, following the newest text unless the reader has scrolled up (then a button jumps back to it).
 * It takes keyboard focus so the arrow keys scroll it. While empty it offers the examples.
 */
export function MessageList({ examples }: { examples: Example[] }) {
  const turns = useStore(chatStore, (state) => state.turns);
  const scroller = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(true);
  /** Content height when the list last scrolled itself to the bottom. */
  const followedHeight = useRef(0);

  useEffect(() => {
    const element = scroller.current;
    if (element === null || !following) return;
    // A reader's scroll up may not have reached onScroll yet when new text renders: seen from here it is a position
    // above the bottom the list last scrolled to. Following then stops instead of pulling the reader back down.
    // (Content that shrank — a new chat, a replaced answer — is followed again.)
    const scrolledUp =
      element.scrollHeight >= followedHeight.current &&
      element.scrollTop + element.clientHeight < followedHeight.current - FOLLOW_THRESHOLD_PX;
    if (scrolledUp) {
      setFollowing(false);
      return;
    }
    element.scrollTop = element.scrollHeight;
    followedHeight.current = element.scrollHeight;
  }, [turns, following]);

  // The image an answer's grounding boxes refer to: the newest image asked about up to that turn.
  let contextImage: ImageId | null = null;
  const imageOfTurn = turns.map((turn) => (contextImage = turn.question.imageIds.at(-1) ?? contextImage));

  return (
    <div className="relative flex min-h-0 flex-1 flex-col">
      <div
        ref={scroller}
        onScroll={(event) => {
          const element = event.currentTarget;
          setFollowing(element.scrollHeight - element.scrollTop - element.clientHeight < FOLLOW_THRESHOLD_PX);
        }}
        className="min-h-0 flex-1 overflow-y-auto rounded-lg px-1 focus-visible:ring-2 focus-visible:ring-blue-500 focus-visible:outline-none"
        aria-label="Conversation"
        role="log"
        tabIndex={0}
      >
        {turns.length === 0 ? (
          <div className="flex min-h-full flex-col justify-center gap-4 py-4">
            <p className="text-center text-sm text-slate-600">
              Pick an example or attach an image, then ask a question about it.
              <br />
              Ask again and watch the badges: cached work shows up in green.
            </p>
            <ExamplesRow examples={examples} />
          </div>
        ) : (
          <ol className="space-y-4 py-2">
            {turns.map((turn, index) => (
              <li key={turn.id} className="space-y-2">
                <QuestionBubble turn={turn} laterTurns={turns.length - 1 - index} />
                <AnswerBubble turn={turn} groundingImage={imageOfTurn[index]} />
              </li>
            ))}
          </ol>
        )}
      </div>
      {!following && turns.length > 0 && (
        <button
          type="button"
          onClick={() => {
            const element = scroller.current;
            if (element !== null) {
              element.scrollTop = element.scrollHeight;
              followedHeight.current = element.scrollHeight;
            }
            setFollowing(true);
          }}
          className="absolute bottom-3 left-1/2 -translate-x-1/2 rounded-full border border-slate-300 bg-white px-3 py-1 text-sm text-slate-800 shadow-md hover:bg-slate-100"
        >
          Jump to latest <span aria-hidden>↓</span>
        </button>
      )}
    </div>
  );
}
