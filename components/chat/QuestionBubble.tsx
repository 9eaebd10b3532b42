"use client";

import { useState } from "react";
import { useStore } from "zustand";
import { ImageThumbnail } from "@/components/gallery/ImageThumbnail";
import { useImageName } from "@/components/gallery/useImageName";
import type { Turn } from "@/lib/client/chatTranscript";
import type { ImageId } from "@/lib/ids";
import { chatStore, isStreaming } from "@/lib/client/stores/chatStore";

function QuestionImage({ imageId }: { imageId: ImageId }) {
  return <ImageThumbnail imageId={imageId} name={useImageName(imageId)} size={56} />;
}

/** "the 2 later questions and their answers" */
function laterTurnsWording(count: number): string {
  return count === 1 ? "the later question and its answer" : `the ${count} later questions and their answers`;
}

/**
 * One question with its images. Any question can be edited and resent: its answer and every later turn are replaced
 * by the new answer (the form says so when there are later turns; it cannot be undone, as the server's session drops
 * them too), while the conversation before it is reused from the prefix cache.
 */
export function QuestionBubble({ turn, laterTurns }: { turn: Turn; laterTurns: number }) {
  const streaming = useStore(chatStore, isStreaming);
  const [editing, setEditing] = useState<string | null>(null);
  const { question } = turn;

  if (editing !== null) {
    return (
      <form
        className="ml-auto w-full max-w-[85%] space-y-2 rounded-2xl border border-blue-400 bg-white p-2"
        onSubmit={(event) => {
          event.preventDefault();
          chatStore.getState().editQuestion(turn.id, editing);
          setEditing(null);
        }}
      >
        <label htmlFor={`edit-${turn.id}`} className="sr-only">
          Edit question
        </label>
        <textarea
          id={`edit-${turn.id}`}
          value={editing}
          onChange={(event) => setEditing(event.target.value)}
          rows={3}
          autoFocus
          className="w-full resize-y rounded-md border border-slate-300 bg-transparent p-2 text-sm"
        />
        {laterTurns > 0 && (
          <p data-testid="edit-replaces-note" className="px-1 text-xs text-slate-700">
            Resending replaces {laterTurnsWording(laterTurns)} below; the conversation before this question is kept.
          </p>
        )}
        <div className="flex justify-end gap-2">
          <button
            type="button"
            onClick={() => setEditing(null)}
            className="rounded-md border border-slate-300 px-3 py-1 text-sm text-slate-700 hover:bg-slate-100"
          >
            Cancel
          </button>
          <button
            type="submit"
            disabled={streaming}
            className="rounded-md bg-blue-700 px-3 py-1 text-sm font-medium text-white hover:bg-blue-800 disabled:opacity-50"
          >
            Resend
          </button>
        </div>
      </form>
    );
  }

  return (
    <div className="group ml-auto flex max-w-[85%] flex-col items-end gap-1">
      <div className="rounded-2xl rounded-br-sm bg-blue-700 px-4 py-2 text-white" data-testid="question">
        {question.imageIds.length > 0 && (
          <div className="mb-2 flex flex-wrap gap-1.5">
            {question.imageIds.map((id) => (
              <QuestionImage key={id} imageId={id} />
            ))}
          </div>
        )}
        {question.text !== "" && <p className="break-words whitespace-pre-wrap">{question.text}</p>}
      </div>
      {!streaming && (
        <button
          type="button"
          onClick={() => setEditing(question.text)}
          title="Edit this question and ask it again: the conversation before it is reused from the prefix cache, and what came after it is replaced"
          className="rounded px-1.5 text-xs text-slate-600 hover:bg-slate-100 hover:text-slate-900"
        >
          Edit question
        </button>
      )}
    </div>
  );
}
