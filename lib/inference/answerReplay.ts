import type { StoredAnswer } from "./cacheSeams";
import { CompletionText } from "./completionText";
import type { GenerationEvent } from "./events";
import type { GenerationPlan } from "./generationPlan";
import type { InferenceModel } from "./inferenceModel";
import type { RequestClock } from "./requestClock";

/**
 * Streams a stored answer (an L3 hit) as if it were being generated: its tokens go through the same CompletionText
 * as live tokens, so the pieces, the stop-string cut and the final text are exactly those of the original run.
 * Needs no engine slot and runs in one go (no await), so there is nothing for a cancellation to interrupt.
 */
export function replayAnswer(
  answer: StoredAnswer,
  plan: GenerationPlan,
  model: InferenceModel,
  clock: RequestClock,
  emit: (event: GenerationEvent) => void,
): void {
  const promptTokens = plan.prompt.inputIds.length;
  emit({ type: "meta", cache: { features: [], prefix: { reused: 0, total: promptTokens }, response: "hit" } });
  const text = new CompletionText(
    (ids) => model.tokenizer.decode(ids, { skipSpecialTokens: true }),
    model.stopTokenIds,
    plan.request.stop,
  );
  const replayed: number[] = [];
  let stopped = false;
  for (const token of answer.tokens) {
    clock.tokenGenerated();
    replayed.push(token);
    const piece = text.push(token);
    if (piece.text) emit({ type: "token", text: piece.text });
    if (piece.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) {
    const rest = text.finish();
    if (rest) emit({ type: "token", text: rest });
  }
  emit({
    type: "done",
    finishReason: answer.finishReason,
    usage: { promptTokens, completionTokens: replayed.length },
    timings: clock.timings(),
    tokenIds: replayed,
    seed: plan.request.temperature === 0 ? null : (plan.request.seed ?? null),
  });
}
