"use client";

import { useState } from "react";
import { useStore } from "zustand";
import { uploadImage } from "@/components/upload/uploadImage";
import { ApiError } from "@/lib/client/apiError";
import { exampleUrl, type Example } from "@/lib/client/examples";
import { chatStore } from "@/lib/client/stores/chatStore";
import { galleryStore } from "@/lib/client/stores/galleryStore";

type LoadState = { file: string; state: "loading" } | { file: string; state: "failed"; message: string } | null;

/**
 * Uploads a bundled example image like any other, adds it to the gallery, attaches it, and (when a starter question
 * was picked) puts that question in the chat box for the user to send or edit.
 */
async function attachExample(example: Example, question: string | null): Promise<void> {
  const response = await fetch(exampleUrl(example));
  if (!response.ok) throw new ApiError(response.status, "example_missing", `The example image ${example.file} could not be loaded.`);
  const startedAt = Date.now();
  const answer = await uploadImage(await response.blob(), example.file);
  galleryStore.getState().addUpload(answer, example.title, startedAt);
  chatStore.getState().attach(answer.imageId);
  if (question !== null) {
    chatStore.getState().setDraft(question);
    document.getElementById("question-input")?.focus();
  }
}

/**
 * Bundled images with starter questions, as in Gradio's Examples. Shown in full while the conversation is empty;
 * once it has started they fold into one line (questions a click away) to leave the room to the answers.
 */
export function ExamplesRow({ examples }: { examples: Example[] }) {
  const [load, setLoad] = useState<LoadState>(null);
  const [expanded, setExpanded] = useState(false);
  const conversationStarted = useStore(chatStore, (state) => state.turns.length > 0);
  const showQuestions = !conversationStarted || expanded;

  const pick = async (example: Example, question: string | null) => {
    setLoad({ file: example.file, state: "loading" });
    try {
      await attachExample(example, question);
      setLoad(null);
    } catch (error) {
      setLoad({ file: example.file, state: "failed", message: error instanceof Error ? error.message : String(error) });
    }
  };

  return (
    <section aria-labelledby="examples-heading" className="space-y-2">
      <div className="flex items-center gap-3">
        <h2 id="examples-heading" className="text-sm font-semibold text-slate-700">
          Examples
        </h2>
        {conversationStarted && (
          <button type="button" onClick={() => setExpanded(!expanded)} aria-expanded={expanded} className="text-xs text-blue-700 underline">
            {expanded ? "Hide starter questions" : "Show starter questions"}
          </button>
        )}
      </div>
      <ul className={showQuestions ? "grid gap-3 md:grid-cols-3" : "flex flex-wrap gap-2"}>
        {examples.map((example) => (
          <li key={example.file} data-testid="example" className="flex gap-3 rounded-lg border border-slate-200 bg-white p-2">
            <button
              type="button"
              onClick={() => void pick(example, null)}
              aria-label={`Attach example: ${example.title}`}
              className="flex shrink-0 items-center gap-2 self-start rounded text-left focus-visible:ring-2 focus-visible:ring-blue-500"
            >
              <img src={exampleUrl(example)} alt="" width={64} height={42} className="h-[42px] w-16 rounded border border-slate-200 object-cover" />
              {!showQuestions && <span className="text-xs font-semibold text-slate-700">{example.title}</span>}
            </button>
            {showQuestions && (
              <div className="min-w-0 space-y-1">
                <p className="text-xs font-semibold text-slate-700">{example.title}</p>
                <ul className="space-y-0.5">
                  {example.questions.map((question) => (
                    <li key={question}>
                      <button type="button" onClick={() => void pick(example, question)} className="text-left text-xs text-blue-700 hover:underline">
                        {question}
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {load?.file === example.file && (
              <p role={load.state === "failed" ? "alert" : "status"} className={`self-center text-xs ${load.state === "failed" ? "text-red-700" : "text-slate-500"}`}>
                {load.state === "failed" ? load.message : "uploading…"}
              </p>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
