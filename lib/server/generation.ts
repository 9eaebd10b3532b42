import type { ChatDoneEvent, ChatMetaEvent } from "@/lib/api/types";
import type { CacheReport, DoneEvent, GenerationEvent } from "@/lib/inference/events";
import type { InferencePipeline } from "@/lib/inference/pipeline";
import type { GenerationRequestInput } from "@/lib/inference/request";

/**
 * A generation started on behalf of an HTTP request, past every refusal: `startGeneration` resolves once the pipeline
 * has accepted the request (validated, images found, prompt within the context, admitted to the queue) and rejects
 * with the refusal otherwise, so a route can still answer a plain HTTP error before it opens a stream.
 *
 * `events` yields what follows `accepted` (meta, tokens, done). The generation stops when the client goes away
 * (`clientSignal`), when `stop()` is called, or when the consumer leaves `events` early.
 */
export interface StartedGeneration {
  readonly events: AsyncIterable<Exclude<GenerationEvent, { type: "accepted" }>>;
  stop(): void;
}

export async function startGeneration(
  pipeline: InferencePipeline,
  input: Omit<GenerationRequestInput, "signal">,
  clientSignal: AbortSignal,
): Promise<StartedGeneration> {
  const stopper = new AbortController();
  const stream = pipeline.generate({ ...input, signal: AbortSignal.any([clientSignal, stopper.signal]) });
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done || first.value.type !== "accepted") {
    await iterator.return?.();
    throw new Error(
      `the pipeline opened a stream with ${first.done ? "nothing" : first.value.type} instead of "accepted"`,
    );
  }
  async function* rest() {
    try {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        if (next.value.type !== "accepted") yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
  return { events: rest(), stop: () => stopper.abort() };
}

/** The `done` event of the HTTP API. A request that generated nothing reports its total time as its TTFT. */
export function wireDone(event: DoneEvent): ChatDoneEvent {
  const { timings } = event;
  return {
    usage: { promptTokens: event.usage.promptTokens, completionTokens: event.usage.completionTokens },
    timings: {
      ttftMs: timings.ttftMs ?? timings.totalMs,
      totalMs: timings.totalMs,
      tokensPerSecond: timings.decodeTokensPerSecond,
    },
  };
}

/** The cache report of the HTTP API's `meta` event (and of a completion's `vlcache.cache`). */
export function wireCache(report: CacheReport): ChatMetaEvent["cache"] {
  return {
    features: report.features.map((f) => ({ imageId: f.imageId, source: f.source })),
    prefix: { ...report.prefix },
    response: report.response,
  };
}
