import type { ChatDoneEvent, ChatMetaEvent } from "@/lib/api/types";
import { answerBadges, type BadgeTone } from "@/lib/client/answerBadges";

const TONE_CLASS: Record<BadgeTone, string> = {
  saved: "border-emerald-300 bg-emerald-50 text-emerald-800",
  spent: "border-amber-300 bg-amber-50 text-amber-800",
  info: "border-slate-300 bg-slate-50 text-slate-700",
};

/** What each cache level did for this answer, and how fast it came. */
export function AnswerBadges({
  meta,
  done,
  regenerated,
}: {
  meta: ChatMetaEvent | null;
  done: ChatDoneEvent | null;
  regenerated: boolean;
}) {
  const badges = answerBadges(meta, done, regenerated);
  if (badges.length === 0) return null;
  return (
    <ul className="flex flex-wrap gap-1.5" aria-label="Cache and timing">
      {badges.map((badge) => (
        <li
          key={badge.kind}
          data-testid={`badge-${badge.kind}`}
          data-tone={badge.tone}
          title={badge.title}
          className={`rounded-full border px-2 py-0.5 text-xs ${TONE_CLASS[badge.tone]}`}
        >
          {badge.label}
        </li>
      ))}
    </ul>
  );
}
