import type { FeatureKey } from "@/lib/cache/featureIdentity";
import type { PrefixKey } from "@/lib/cache/prefixKey";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type { DecodeLoop } from "@/lib/model/engine/decodeLoop";
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
 * The model work of one request that holds an engine slot: prefix reuse (b) → features of the images prefill reads (a)
 * → prefill → decode, streaming text as it goes, then offering the KV to the prefix cache and a deterministic answer to
 * the response cache.
 *
 * KV ownership (see kvCache.ts): a prefix hit's KV belongs to the prefix seam and is released through the hit right
 * after prefill; every KV a decoder run returns belongs to this run's decode loop (decodeLoop.ts), which releases the
 * one a step supersedes; at the end the run hands the last one to `prefix.insert` (normal end) or the loop releases it
 * (cancellation, failure). So when the run returns or throws, it holds no KV.
 *
 * Cancellation is checked before each sampled token: once the signal is aborted, at most the decode step already
 * running completes, and no further token is sampled or emitted.
 */
export async function runGeneration(input: RunInput): Promise<void> {
  const { plan, model, seams, seamContext: ctx, clock, emit } = input;
  const { request, prompt } = plan;
  const promptTokens = prompt.inputIds.length;
  const done = (finishReason: FinishReason, tokenIds: readonly number[], seed: number | null) =>
    emit({
      type: "done",
      finishReason,
      usage: { promptTokens, completionTokens: tokenIds.length },
      timings: clock.timings(),
      tokenIds,
      seed,
    });
  const sampler = new TokenSampler(request);

  const engine = model.engine;
  const prepared = engine.prepare(
    prompt.inputIds,
    plan.images.map((i) => i.grid),
  );
  const hit = await seams.prefix.lookup(plan.promptKey.slice(0, -1), ctx);
  // The hit is released exactly once: right after prefill has read it, or in `finally` when the run ends before.
  let unreleasedHit = hit;
  const releaseHit = () => {
    unreleasedHit?.release();
    unreleasedHit = null;
  };
  let loop: DecodeLoop | null = null;
  try {
    if (hit) checkPrefixHit(hit, promptTokens);
    const features = await imageFeatures(input, imagesNeededFrom(prepared.imageOf, hit?.length ?? 0));
    if (features === null || ctx.signal.aborted) return done("cancelled", [], sampler.seed);
    emit({
      type: "meta",
      cache: {
        features: features.distinct,
        prefix: hit ? { reused: hit.length, total: promptTokens, tier: hit.tier } : { reused: 0, total: promptTokens },
        response: input.response,
      },
    });

    const prefillStart = clock.time();
    loop = engine.decodeLoop(prepared, await engine.prefill(prepared, features.perImage, hit?.kv ?? engine.emptyKv()));
    releaseHit();
    clock.addPrefill(clock.time() - prefillStart);

    const text = new CompletionText(
      (ids) => model.tokenizer.decode(ids, { skipSpecialTokens: true }),
      model.stopTokenIds,
      request.stop,
    );
    const sequence = prompt.inputIds.slice();
    const generated: number[] = [];
    let finishReason: FinishReason;
    for (;;) {
      if (ctx.signal.aborted) {
        finishReason = "cancelled";
        break;
      }
      const token = sampler.next(loop.logits, sequence);
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
      await loop.feed(token);
    }

    if (finishReason !== "cancelled") {
      // The KV covers the prompt and every generated token but the last, which was sampled and never fed back.
      const kv = await loop.takeKv();
      const key: PrefixKey = [...plan.promptKey, ...generated.slice(0, kv.length - promptTokens)];
      seams.prefix.insert(key, kv, ctx);
      if (plan.responseRequest) {
        const answer = {
          tokens: generated,
          text: text.text,
          finishReason,
          usage: { promptTokens, completionTokens: generated.length },
        };
        await seams.responses.store(plan.responseRequest, answer, ctx);
      }
    }
    done(finishReason, generated, sampler.seed);
  } finally {
    releaseHit();
    loop?.release();
  }
}

interface RequestFeatures {
  /** Indexed like the prompt's images; undefined for an image prefill does not read. */
  readonly perImage: (ImageFeatures | undefined)[];
  /** One entry per distinct image, in prompt order. */
  readonly distinct: CacheReport["features"];
}

/**
 * Features of the images through the features seam, once per distinct image; null when cancelled meanwhile.
 * `neededFrom[k]` false marks image k as lying wholly inside the reused prefix: the seam serves its features only
 * when cached, and an image left without features is not reported (nothing was computed or read for it).
 */
async function imageFeatures(input: RunInput, needed: readonly boolean[]): Promise<RequestFeatures | null> {
  const { plan, model, seams, seamContext: ctx, clock } = input;
  const results = new Map<FeatureKey, FeatureResult | null>();
  const distinct: CacheReport["features"][number][] = [];
  for (const image of plan.images) {
    if (results.has(image.key)) continue;
    if (ctx.signal.aborted) return null;
    // The same image twice: required if any of its occurrences is.
    const required = plan.images.some((other, k) => other.key === image.key && needed[k]);
    const compute = async () => {
      const encoded = await encodeImage(model, await image.image.pixels());
      clock.addPreprocess(encoded.preprocessMs);
      clock.addVision(encoded.visionMs);
      return encoded.features;
    };
    const result = await seams.features.getFeatures(
      { identity: image.identity, key: image.key, grid: image.grid, required },
      compute,
      ctx,
    );
    if (result === null && required)
      throw new Error(`features seam gave no features for required image ${image.identity.imageId}`);
    results.set(image.key, result);
    if (result !== null) distinct.push({ imageId: image.identity.imageId, source: result.source });
  }
  return { perImage: plan.images.map((image) => results.get(image.key)?.features), distinct };
}

/**
 * Per image of the prompt: whether prefill from position `from` reads any of its tokens (`imageOf`: see
 * PreparedPrompt).
 */
function imagesNeededFrom(imageOf: Int32Array, from: number): boolean[] {
  const needed: boolean[] = [];
  for (let p = 0; p < imageOf.length; p++) {
    const image = imageOf[p];
    if (image >= 0) needed[image] = (needed[image] ?? false) || p >= from;
  }
  return needed;
}

/** A seam answering more than it was asked would make prefill skip tokens it never saw. */
function checkPrefixHit(hit: PrefixHit, promptTokens: number): void {
  if (hit.length !== hit.kv.length || hit.length < 1 || hit.length >= promptTokens) {
    throw new Error(
      `prefix seam returned ${hit.length} positions (KV of ${hit.kv.length}) for a ${promptTokens}-token prompt`,
    );
  }
}
