/**
 * The small badges under an answer: what each cache level contributed (from the `meta` event) and how fast the
 * answer came (from `done`). Pure: the component only lays them out.
 */
import type { ChatDoneEvent, ChatMetaEvent, FeatureSource, PrefixTier } from "@/lib/api/types";
import { formatCount, formatDuration, formatTokensPerSecond } from "./format";

export type BadgeKind = "features" | "prefix" | "response" | "ttft" | "speed";
/** `saved`: a cache level spared work; `spent`: it did not; `info`: a measurement. */
export type BadgeTone = "saved" | "spent" | "info";

export interface AnswerBadge {
  kind: BadgeKind;
  label: string;
  /** Longer explanation, shown as a tooltip. */
  title: string;
  tone: BadgeTone;
}

const SOURCE_LABEL: Record<FeatureSource, string> = { precomputed: "precomputed", l1: "L1", computed: "computed" };
const SOURCE_ORDER: FeatureSource[] = ["precomputed", "l1", "computed"];
const TIER_TITLE: Record<PrefixTier, string> = {
  memory: "served from this server's memory",
  store: "read from the shared store (computed by another replica, or before a restart)",
};

function featuresBadge(features: ChatMetaEvent["cache"]["features"]): AnswerBadge | null {
  if (features.length === 0) return null;
  const counts = SOURCE_ORDER.map((source) => ({
    source,
    n: features.filter((f) => f.source === source).length,
  })).filter((c) => c.n > 0);
  const label =
    counts.length === 1 && features.length === 1
      ? `features: ${SOURCE_LABEL[counts[0].source]}`
      : `features: ${counts.map((c) => `${c.n} ${SOURCE_LABEL[c.source]}`).join(" · ")}`;
  const allComputed = counts.length === 1 && counts[0].source === "computed";
  return {
    kind: "features",
    label,
    title:
      "Vision features of the attached images: precomputed at upload, found in the L1 cache, or computed for this question",
    tone: allComputed ? "spent" : "saved",
  };
}

/**
 * An answer from the response cache (L3) was not generated: it gets one badge, "from response cache in N ms" (the
 * server's time for the whole answer); prefix reuse, time to first token and tok/s would describe a generation that
 * did not happen. `regenerated`: the answer is a Regenerate, which skips L3 on purpose.
 */
export function answerBadges(
  meta: ChatMetaEvent | null,
  done: ChatDoneEvent | null,
  regenerated = false,
): AnswerBadge[] {
  if (meta?.cache.response === "hit") {
    return [
      {
        kind: "response",
        label: done === null ? "from response cache" : `from response cache in ${formatDuration(done.timings.totalMs)}`,
        title: "The whole answer was stored from an earlier identical question: the model did not run",
        tone: "saved",
      },
    ];
  }
  const badges: AnswerBadge[] = [];
  if (meta !== null) {
    const features = featuresBadge(meta.cache.features);
    if (features !== null) badges.push(features);
    const { reused, total, tier } = meta.cache.prefix;
    badges.push({
      kind: "prefix",
      label: `prefix ${formatCount(reused)}/${formatCount(total)} reused${tier === undefined ? "" : ` from ${tier}`}`,
      title: `Prompt tokens whose attention keys and values came from the L2 prefix cache, out of the prompt's length${tier === undefined ? "" : `: ${TIER_TITLE[tier]}`}`,
      tone: reused > 0 ? "saved" : "spent",
    });
    badges.push(responseBadge(meta.cache.response, regenerated));
  }
  if (done !== null) {
    badges.push({
      kind: "ttft",
      label: `TTFT ${formatDuration(done.timings.ttftMs)}`,
      title: "Time to first token, measured on the server",
      tone: "info",
    });
    badges.push({
      kind: "speed",
      label: formatTokensPerSecond(done.timings.tokensPerSecond),
      title: `${formatCount(done.usage.completionTokens)} tokens in ${formatDuration(done.timings.totalMs)}`,
      tone: "info",
    });
  }
  return badges;
}

function responseBadge(response: "miss" | "bypass", regenerated: boolean): AnswerBadge {
  if (response === "miss") {
    return {
      kind: "response",
      label: "response cache miss",
      title: "Not in the L3 response cache: the model generated this answer",
      tone: "spent",
    };
  }
  return regenerated
    ? {
        kind: "response",
        label: "response cache skipped",
        title: "Regenerate asks for a fresh sample, so the L3 response cache was not used",
        tone: "info",
      }
    : {
        kind: "response",
        label: "response cache off",
        title: "The L3 response cache was not used (switched off, or sampling is not deterministic)",
        tone: "info",
      };
}
