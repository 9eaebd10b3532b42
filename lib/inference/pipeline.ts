import type { Logger } from "@/lib/log";
import { timeStage } from "@/lib/stageTimes";
import { observeTtft } from "@/lib/metrics/cacheMetrics";
import { replayAnswer } from "./answerReplay";
import { passThroughSeams, type CacheSeams, type ResponseLookup, type SeamContext } from "./cacheSeams";
import { InferenceError } from "./errors";
import { EventChannel } from "./eventChannel";
import type { CacheReport, DoneEvent, GenerationEvent } from "./events";
import { planGeneration } from "./generationPlan";
import { runGeneration } from "./generationRun";
import type { PixelBudget } from "@/lib/images/pixelBudget";
import type { ImageSource } from "./imageSource";
import type { InferenceModel } from "./inferenceModel";
import { parseGenerationRequest, type GenerationRequestInput } from "./request";
import { RequestClock } from "./requestClock";
import type { RequestImageLimits } from "./requestImages";
import { GenerationScheduler, type Slot } from "./scheduler";

export interface PipelineOptions {
  readonly model: InferenceModel;
  readonly images: ImageSource;
  /** Largest accepted image width × height (AppConfig.maxImagePixels). */
  readonly maxImagePixels: number;
  /** Count and total-pixel bounds of one request's images (AppConfig.requestImages); unbounded when absent. */
  readonly imageLimits?: RequestImageLimits;
  /** The process's decode budget, shared with uploads; decodes are not metered when absent. */
  readonly decodeBudget?: PixelBudget;
  /** A context limit below the model's max_position_embeddings (prompt + generated tokens). */
  readonly maxContextTokens?: number;
  /** Where the caches plug in; pass-through (no caching) by default. */
  readonly seams?: CacheSeams;
  /** The engine's queue; one generation at a time, 32 waiting, by default. */
  readonly scheduler?: GenerationScheduler;
  readonly logger?: Logger;
}

/**
 * Request-level generation over one model: `generate(request)` streams GenerationEvents (events.ts).
 *
 *   validate (zod) → resolve images → plan prompt and check its length      ── refusals: InferenceError
 *   → L3 look-up (c, deterministic requests) ── hit: `accepted`, then replay the stored answer
 *   → admit to the engine's queue (QueueFullError) → `accepted` → wait for a slot
 *   → prefix look-up (b) → features (a) of the images prefill reads → `meta` → prefill → decode, `token`s
 *   → prefix insert (b), L3 store (c) → `done`        (the part holding the slot: generationRun.ts)
 *
 * Errors: a refusal rejects the first `next()` before any event, so a caller can still answer with a plain HTTP
 * error; a failure after `accepted` (the engine failing) rejects a later `next()`. Either way the request's slot and
 * KV are released before the error is seen.
 *
 * Cancellation: the request's `signal`, or the consumer leaving the loop early (`break`/`return()`), cancels: a
 * waiting request leaves the queue at once, a running one stops before its next token and frees its KV; the stream
 * then ends with `done` {finishReason: "cancelled"} (not seen by a consumer that left).
 */
export class InferencePipeline {
  readonly model: InferenceModel;
  readonly scheduler: GenerationScheduler;
  /** Upper bound on prompt + generated tokens. */
  readonly contextTokens: number;
  private readonly seams: CacheSeams;
  private readonly logger: Logger | undefined;

  constructor(private readonly options: PipelineOptions) {
    this.model = options.model;
    this.seams = options.seams ?? passThroughSeams;
    this.scheduler = options.scheduler ?? new GenerationScheduler();
    this.contextTokens = Math.min(options.maxContextTokens ?? Infinity, options.model.maxPositions);
    this.logger = options.logger?.child({ module: "inference" });
  }

  generate(input: GenerationRequestInput): AsyncIterable<GenerationEvent> {
    return {
      [Symbol.asyncIterator]: () => {
        const consumerGone = new AbortController();
        const channel = new EventChannel<GenerationEvent>(() => consumerGone.abort());
        void this.produce(input, channel, consumerGone.signal);
        return channel;
      },
    };
  }

  private async produce(
    input: GenerationRequestInput,
    channel: EventChannel<GenerationEvent>,
    consumerGone: AbortSignal,
  ): Promise<void> {
    const clock = new RequestClock();
    let slot: Slot | null = null;
    let report: CacheReport | null = null;
    const emit = (event: GenerationEvent) => {
      if (event.type === "meta") report = event.cache;
      if (event.type === "done") {
        this.logDone(event);
        if (event.timings.ttftMs !== null)
          observeTtft(event.timings.ttftMs / 1000, report !== null && cacheHelped(report));
      }
      channel.push(event);
    };
    try {
      const request = parseGenerationRequest(input);
      const signal = request.signal ? AbortSignal.any([request.signal, consumerGone]) : consumerGone;
      const plan = await timeStage("plan", () =>
        planGeneration(request, {
          model: this.model,
          images: this.options.images,
          featureStorage: this.seams.features.storage,
          maxImagePixels: this.options.maxImagePixels,
          contextTokens: this.contextTokens,
          imageLimits: this.options.imageLimits,
          decodeBudget: this.options.decodeBudget,
          signal,
        }),
      );
      const seamContext: SeamContext = {
        tenant: request.tenant,
        model: this.model.fingerprint,
        flags: request.cache,
        signal,
      };

      const lookup: ResponseLookup = plan.responseRequest
        ? await this.seams.responses.lookup(plan.responseRequest, seamContext)
        : { result: "bypass" };
      if (lookup.result === "hit") {
        emit({ type: "accepted", queuedBehind: 0 });
        replayAnswer(lookup.answer, plan, this.model, clock, emit);
        return;
      }

      const admittedAt = clock.time();
      slot = this.scheduler.admit(signal);
      emit({ type: "accepted", queuedBehind: slot.queuedBehind });
      const outcome = await slot.outcome;
      clock.slotGranted(admittedAt);
      if (outcome === "cancelled") {
        const promptTokens = plan.prompt.inputIds.length;
        emit({
          type: "done",
          finishReason: "cancelled",
          usage: { promptTokens, completionTokens: 0 },
          timings: clock.timings(),
          tokenIds: [],
          seed: null,
        });
        return;
      }
      await runGeneration({
        plan,
        model: this.model,
        seams: this.seams,
        seamContext,
        response: lookup.result,
        clock,
        emit,
      });
    } catch (error) {
      if (!(error instanceof InferenceError)) this.logger?.error({ err: error }, "generation failed");
      channel.fail(error);
    } finally {
      slot?.release();
      channel.close();
    }
  }

  private logDone(event: DoneEvent): void {
    this.logger?.debug(
      { finishReason: event.finishReason, ...event.usage, ...event.timings, queueLength: this.scheduler.queueLength },
      "generation done",
    );
  }
}

/** Whether any cache level saved work for a request (the `hit` side of the TTFT histogram, see MetricsSummary). */
function cacheHelped(report: CacheReport): boolean {
  return (
    report.response === "hit" ||
    report.prefix.reused > 0 ||
    (report.features.length > 0 && report.features.every((image) => image.source !== "computed"))
  );
}
