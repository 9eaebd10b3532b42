import type { PrefixKey } from "@/lib/cache/prefixKey";
import type { DecodeLoop } from "@/lib/model/engine/decodeLoop";
import { TokenSampler } from "@/lib/model/sampling/tokenSampler";
import type { PrefixHit } from "./cacheSeams";
import { CompletionText } from "./completionText";
import type { FinishReason, GenerationEvent, ResponseCacheResult } from "./events";
import { RequestFeatures, type FeatureDeps } from "./requestFeatures";

export interface RunInput extends FeatureDeps {
  readonly response: Exclude<ResponseCacheResult, "hit">;
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
 * Image features this run encodes on the device go to prefill from there and are read back for L1 right after the
 * first token (requestFeatures.ts); the run ends only once every features look-up has ended (L1 written).
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
  const images = new RequestFeatures(input);
  try {
    if (hit) checkPrefixHit(hit, promptTokens);
    const features = await images.fetch(imagesNeededFrom(prepared.imageOf, hit?.length ?? 0));
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
      // Features prefill read from the device are downloaded for L1 now, before the device runs anything else.
      if (generated.length === 1) await images.afterFirstToken();
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

    await images.settle();
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
    // Already settled unless the run failed or was cancelled early; then its own outcome is what the caller sees.
    await images.settle().catch(() => {});
    releaseHit();
    loop?.release();
  }
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
