"use client";

import { useState } from "react";
import { ApiError } from "@/lib/client/apiError";
import { exampleUrl, type Example } from "@/lib/client/examples";
import { chatStore } from "@/lib/client/stores/chatStore";
import { uploadStore } from "@/lib/client/stores/uploadStore";

type LoadState = { file: string; state: "loading" } | { file: string; state: "failed"; message: string } | null;

/**
 * Uploads a bundled example image like any other (named by its title, it joins the gallery and is attached to the
 * next question), and (when a starter question was picked) puts that question in the chat box to send or edit.
 */
async function attachExample(example: Example, question: string | null): Promise<void> {
  const response = await fetch(exampleUrl(example));
  if (!response.ok)
    throw new ApiError(response.status, "example_missing", `The example image ${example.file} could not be loaded.`);
  const blob = await response.blob();
  if (question !== null) chatStore.getState().setDraft(question);
  await uploadStore.getState().uploadFiles([new File([blob], example.title, { type: blob.type })]);
  if (question !== null) {
    document.getElementById("question-input")?.focus();
  }
}

/** Bundled images with starter questions, as in Gradio's Examples; the empty conversation shows them. */
export function ExamplesRow({ examples }: { examples: Example[] }) {
  const [load, setLoad] = useState<LoadState>(null);

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
      <h2 id="examples-heading" className="text-sm font-semibold text-slate-700">
        Examples
      </h2>
      <ul className="grid gap-2 md:grid-cols-2 xl:grid-cols-3">
        {examples.map((example) => (
          <li
            key={example.file}
            data-testid="example"
            className="flex gap-3 rounded-lg border border-slate-200 bg-white p-2"
          >
            <button
              type="button"
              onClick={() => void pick(example, null)}
              aria-label={`Attach example: ${example.title}`}
              className="shrink-0 self-start rounded focus-visible:ring-2 focus-visible:ring-blue-500"
            >
              <img
                src={exampleUrl(example)}
                alt=""
                width={64}
                height={42}
                className="h-[42px] w-16 rounded border border-slate-200 object-cover"
              />
            </button>
            <div className="min-w-0 space-y-1">
              <p className="text-xs font-semibold text-slate-700">{example.title}</p>
              <ul className="space-y-0.5">
                {example.questions.map((question) => (
                  <li key={question}>
                    <button
                      type="button"
                      onClick={() => void pick(example, question)}
                      className="text-left text-xs text-blue-700 hover:underline"
                    >
                      {question}
                    </button>
                  </li>
                ))}
              </ul>
              {load?.file === example.file && (
                <p
                  role={load.state === "failed" ? "alert" : "status"}
                  className={`text-xs ${load.state === "failed" ? "text-red-700" : "text-slate-600"}`}
                >
                  {load.state === "failed" ? load.message : "uploading…"}
                </p>
              )}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
