import type { Turn } from "@/lib/client/chatTranscript";
import { AnswerBadges } from "./AnswerBadges";
import { MarkdownAnswer } from "./MarkdownAnswer";

/** The model's answer as it streams, how it ended, and the cache badges. */
export function AnswerBubble({ turn }: { turn: Turn }) {
  const active = turn.status === "waiting" || turn.status === "streaming";
  return (
    <div className="mr-auto max-w-[85%]" data-testid="answer" data-status={turn.status}>
      <div className="rounded-2xl rounded-bl-sm border border-slate-200 bg-white px-4 py-2 shadow-sm">
        {turn.answer === "" && active ? (
          <p className="text-slate-500" aria-live="polite">
            Thinking…
          </p>
        ) : (
          <MarkdownAnswer text={turn.answer} />
        )}
        {active && turn.answer !== "" && <span className="ml-0.5 inline-block h-4 w-2 animate-pulse bg-slate-400 align-middle" aria-hidden />}
        {turn.status === "stopped" && <p className="mt-1 text-xs text-slate-500">Stopped.</p>}
        {turn.status === "failed" && turn.error !== null && (
          <p role="alert" className="mt-1 text-sm text-red-700" data-testid="answer-error">
            {turn.error.message}
          </p>
        )}
      </div>
      <AnswerBadges meta={turn.meta} done={turn.done} />
    </div>
  );
}
