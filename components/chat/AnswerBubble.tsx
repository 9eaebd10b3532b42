"use client";

import { useMemo } from "react";
import type { Turn } from "@/lib/client/chatTranscript";
import { plainError } from "@/lib/client/errorWording";
import { formatCount } from "@/lib/client/format";
import { parseGroundingBoxes } from "@/lib/client/grounding";
import type { ImageId } from "@/lib/ids";
import { AnswerBadges } from "./AnswerBadges";
import { CopyButton } from "./CopyButton";
import { GroundedImage } from "./GroundedImage";
import { MarkdownAnswer } from "./MarkdownAnswer";

function OriginNote({ turn }: { turn: Turn }) {
  if (turn.origin === "regenerated") {
    return (
      <p data-testid="regenerated-note" className="text-xs text-slate-600">
        Regenerated: a new sample with a fresh seed; the response cache was skipped.
      </p>
    );
  }
  if (turn.origin === "edited") {
    const prefix = turn.meta?.cache.prefix;
    return (
      <p data-testid="edit-note" className="text-xs text-slate-600">
        Edited and resent
        {prefix !== undefined &&
          `: ${formatCount(prefix.reused)} of ${formatCount(prefix.total)} prompt tokens came from the prefix cache`}
        .
      </p>
    );
  }
  return null;
}

/**
 * The model's answer as it streams, how it ended, the cache badges and the answer's actions. Regions named in a
 * grounding answer are drawn over `groundingImage`, the image the conversation was about at that point.
 */
export function AnswerBubble({ turn, groundingImage }: { turn: Turn; groundingImage: ImageId | null }) {
  const active = turn.status === "waiting" || turn.status === "streaming";
  const boxes = useMemo(() => (active ? [] : parseGroundingBoxes(turn.answer)), [active, turn.answer]);
  const error = turn.status === "failed" && turn.error !== null ? plainError(turn.error) : null;
  return (
    <div className="mr-auto max-w-[92%] space-y-1.5 sm:max-w-[85%]" data-testid="answer" data-status={turn.status}>
      <div className="rounded-2xl rounded-bl-sm border border-slate-200 bg-white px-4 py-2 shadow-sm">
        {turn.answer === "" && active ? (
          <p className="text-slate-600" aria-live="polite">
            Thinking…
          </p>
        ) : (
          turn.answer !== "" && <MarkdownAnswer text={turn.answer} />
        )}
        {active && turn.answer !== "" && (
          <span className="ml-0.5 inline-block h-4 w-2 animate-pulse bg-slate-400 align-middle" aria-hidden />
        )}
        {boxes.length > 0 && groundingImage !== null && <GroundedImage imageId={groundingImage} boxes={boxes} />}
        {turn.status === "stopped" && <p className="mt-1 text-xs text-slate-600">Stopped.</p>}
        {error !== null && (
          <div role="alert" className="mt-1 text-sm text-red-800" data-testid="answer-error">
            <p>{error.summary}</p>
            <details className="mt-1 text-xs">
              <summary className="cursor-pointer select-none">Details</summary>
              <code className="mt-1 block font-mono break-all whitespace-pre-wrap">{error.detail}</code>
            </details>
          </div>
        )}
      </div>
      <OriginNote turn={turn} />
      <div className="flex flex-wrap items-center gap-1.5">
        <AnswerBadges meta={turn.meta} done={turn.done} regenerated={turn.origin === "regenerated"} />
        {!active && turn.answer !== "" && (
          <CopyButton
            what="answer"
            text={() => turn.answer}
            className="rounded-full border border-slate-300 px-2 py-0.5 text-xs text-slate-700 hover:bg-slate-100"
          />
        )}
      </div>
    </div>
  );
}
