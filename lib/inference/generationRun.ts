import type { FeatureKey } from "@/lib/cache/keys";
import type { PrefixKey } from "@/lib/cache/prefixKey";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import { releaseKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import { TokenSampler } from "@/lib/model/sampling/tokenSampler";
import type { CacheSeams, FeatureResult, PrefixHit, SeamContext } from "./cacheSeams";
import { CompletionText } from "./completionText";
import type { CacheReport, FinishReason, GenerationEvent, ResponseCacheResult } from "./events";
import type { GenerationPlan } from "./generationPlan";
import { encodeImage } from "./imageEncoding";
import type { InferenceModel } from "./inferenceModel";
import type { RequestClock } from "./requestClock";

export interface RunInput {
  readonly plan: GenerationPlan;
  readonly model: InferenceModel;
  readonly seams: CacheSeams;
  /** Its signal is the request's cancellation. */
  readonly seamContext: SeamContext;
  readonly response: Exclude<ResponseCacheResult, "hit">;
  readonly clock: RequestClock;
  readonly emit: (event: GenerationEvent) => void;
}

/**
 * The model work of one request that holds an engine slot: image features (a) → prefix reuse (b) → prefill → decode,
 * streaming text as it goes, then offering the KV to the prefix cache and a deterministic answer to the response cache.
 *
 * KV ownership (see kvCache.ts): a prefix hit's KV belongs to the prefix seam and is released through the hit right
 * after prefill; every KV a decoder run returns belongs to this run, which releases the one a step supersedes, and at
 * the end hands the last one to `prefix.insert` (normal end) or releases it (cancellation, failure). So when the run
 * returns or throws, it holds no KV.
 *
 * Cancellation is checked before each sampled token: once the signal is aborted, at most the decode step already
 * running completes, and no further token is sampled or emitted.
 */
export async function runGeneration(input: RunInput): Promise<void> {
  const { plan, model, seams, seamContext: ctx, clock, emit } = input;
  const { request, prompt } = plan;
  const promptTokens = prompt.inputIds.length;
  const done = (finishReason: FinishReason, tokenIds: readonly number[], seed: number | null) =>
    emit({ type: "done", finishReason, usage: { promptTokens, completionTokens: tokenIds.length }, timings: clock.timings(), tokenIds, seed });
  const sampler = new TokenSampler(request);

  const features = await imageFeatures(input);
  if (features === null || ctx.signal.aborted) return done("cancelled", [], sampler.seed);

  const engine = model.engine;
  const prepared = engine.prepare(prompt.inputIds, plan.images.map((i) => i.grid));
  const hit = await seams.prefix.lookup(plan.promptKey.slice(0, -1), ctx);
  if (hit) checkPrefixHit(hit, promptTokens);
  emit({
    type: "meta",
    cache: {
      features: features.distinct,
      prefix: { reused: hit?.length ?? 0, total: promptTokens },
      response: input.response,
    },
  });

  let owned: KvCache | null = null;
  try {
    const prefillStart = clock.time();
    let step = await engine.prefill(prepared, features.perImage, hit?.kv ?? engine.emptyKv()).finally(() => hit?.release());
    owned = step.kv;
    clock.addPrefill(clock.time() - prefillStart);

    const text = new CompletionText((ids) => model.tokenizer.decode(ids, { skipSpecialTokens: true }), model.stopTokenIds, request.stop);
    const sequence = prompt.inputIds.slice();
    const generated: number[] = [];
    let finishReason: FinishReason;
    for (;;) {
      if (ctx.signal.aborted) {
        finishReason = "cancelled";
        break;
      }
      const token = sampler.next(step.logits, sequence);
      clock.tokenGenerated();
      generated.push(token);
      sequence.push(token);
      const piece = text.push(token);
      if (piece.text) emit({ type: "token", text: piece.text });
      if (piece.stopped) {
        finishReason = "stop";
        break;
      }
      if (generated.length >= request.maxNewTokens || sequence.length >= plan.contextTokens) {
        const rest = text.finish();
        if (rest) emit({ type: "token", text: rest });
        finishReason = "length";
        break;
      }
      const previous = step.kv;
      step = await engine.decodeStep(token, previous, prepared.positions.ropeDelta);
      owned = step.kv;
      releaseKvCache(previous);
    }

    if (finishReason !== "cancelled") {
      // The KV covers the prompt and every generated token but the last, which was sampled and never fed back.
      const key: PrefixKey = [...plan.promptKey, ...generated.slice(0, step.kv.length - promptTokens)];
      owned = null;
      seams.prefix.insert(key, step.kv, ctx);
      if (plan.responseRequest) {
        const answer = { tokens: generated, text: text.text, finishReason, usage: { promptTokens, completionTokens: generated.length } };
        await seams.responses.store(plan.responseRequest, answer, ctx);
      }
    }
    done(finishReason, generated, sampler.seed);
  } finally {
    if (owned) releaseKvCache(owned);
  }
}

interface RequestFeatures {
  /** Indexed like the prompt's images. */
  readonly perImage: ImageFeatures[];
  /** One entry per distinct image, in prompt order. */
  readonly distinct: CacheReport["features"];
}

/** Features of every image through the features seam, once per distinct image; null when cancelled meanwhile. */
async function imageFeatures(input: RunInput): Promise<RequestFeatures | null> {
  const { plan, model, seams, seamContext: ctx, clock } = input;
  const results = new Map<FeatureKey, FeatureResult>();
  const distinct: CacheReport["features"][number][] = [];
  for (const image of plan.images) {
    if (results.has(image.key)) continue;
    if (ctx.signal.aborted) return null;
    const compute = async () => {
      const encoded = await encodeImage(model, await image.image.pixels());
      clock.addPreprocess(encoded.preprocessMs);
      clock.addVision(encoded.visionMs);
      return encoded.features;
    };
    const result = await seams.features.getFeatures({ identity: image.identity, key: image.key, grid: image.grid }, compute, ctx);
    results.set(image.key, result);
    distinct.push({ imageId: image.identity.imageId, source: result.source });
  }
  return { perImage: plan.images.map((image) => (results.get(image.key) as FeatureResult).features), distinct };
}

/** A seam answering more than it was asked would make prefill skip tokens it never saw. */
function checkPrefixHit(hit: PrefixHit, promptTokens: number): void {
  if (hit.length !== hit.kv.length || hit.length < 1 || hit.length >= promptTokens) {
    hit.release();
    throw new Error(`prefix seam returned ${hit.length} positions (KV of ${hit.kv.length}) for a ${promptTokens}-token prompt`);
  }
}
