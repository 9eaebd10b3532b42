/**
 * The three cache levels of one served model, and the pipeline's seams (cacheSeams.ts) backed by them:
 * - features → L1 (l1Features.ts): get-or-compute with single flight; the request's `l1` switch off computes without
 *   reading or writing;
 * - prefix → L2 (l2PrefixKv.ts) in the namespace of the request's tenant and model, with its store tier
 *   (l2StoreTier.ts) in `store` when L2_STORE asks for it (see `prefixStoreTier`);
 * - responses → L3 (l3Responses.ts) for deterministic requests.
 * Plus the upload side of L1: `precompute` starts encoding a stored image at once, `imageStatus` reports its state.
 *
 * The features seam reports what became of each image to the one L1 recorder (cacheMetrics.ts `recordFeatureLookup`);
 * FeatureCache and the generation run count no look-ups themselves.
 *
 * Every seam checks that the request is for this model: a fingerprint mismatch is a wiring bug, never served.
 * The levels follow admin flushes made by any process sharing the store (flush.ts) for as long as the store is open.
 */

import type { ImageStatus } from "@/lib/api/types";
import { followFlushes } from "@/lib/cache/flush";
import { l2Namespace } from "@/lib/cache/keys";
import { FeatureCache } from "@/lib/cache/l1Features";
import type { PrecomputeState } from "@/lib/cache/precomputeStatus";
import { DEFAULT_KV_BLOCK_TOKENS } from "@/lib/cache/kvBlockChain";
import { PrefixKvCache } from "@/lib/cache/l2PrefixKv";
import { PrefixKvStoreTier } from "@/lib/cache/l2StoreTier";
import { ResponseCache, type ResponseQuery } from "@/lib/cache/l3Responses";
import type { ConversationTurn } from "@/lib/cache/responseIdentity";
import { RESPONSE_RECORD_VERSION } from "@/lib/cache/responseRecord";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import type { CacheSettings } from "@/lib/config";
import type { ImageId, TenantId } from "@/lib/ids";
import type { CanonicalImage } from "@/lib/images/canonicalize";
import type { Logger } from "@/lib/log";
import { recordFeatureLookup } from "@/lib/metrics/cacheMetrics";
import { floatTypeOf } from "@/lib/model/bundleManifest";
import { releaseKvCache } from "@/lib/model/engine/kvCache";
import type { ImageFeatures } from "@/lib/model/engine/imageFeatures";
import type {
  CacheSeams,
  FeatureRequest,
  FeatureResult,
  FeatureSeam,
  PrefixSeam,
  ResponseRequest,
  ResponseSeam,
  SeamContext,
} from "./cacheSeams";
import { encodeImage } from "./imageEncoding";
import type { InferenceModel } from "./inferenceModel";
import { imageFeatureIdentity, modelImage } from "./modelImage";

export interface ModelCaches {
  readonly features: FeatureCache;
  readonly prefix: PrefixKvCache;
  /** L2's store tier; null when off (L2_STORE, the store's kind, or KV in device memory). */
  readonly prefixStore: PrefixKvStoreTier | null;
  readonly responses: ResponseCache;
  readonly seams: CacheSeams;
  /** Starts the background encode of an uploaded image (an upload's L1 precompute); returns its status now. */
  precompute(image: UploadedImage, tenant: TenantId): ImageStatus;
  /** The precompute state GET /api/images/:id reports. */
  imageState(imageId: ImageId, tenant: TenantId): Promise<PrecomputeState>;
}

/** A stored upload: its canonical id and pixels ([height, width, 3] u8 sRGB). */
export type UploadedImage = Pick<CanonicalImage, "id" | "width" | "height" | "data">;

export function createModelCaches(
  model: InferenceModel,
  store: BlobStore,
  settings: CacheSettings,
  logger?: Logger,
): ModelCaches {
  const features = new FeatureCache({
    store,
    fingerprint: model.fingerprint,
    shape: {
      hidden: model.engine.config.text.hiddenSize,
      deepstackLayers: model.engine.config.vision.deepstackVisualIndexes.length,
    },
    storage: settings.l1.storage,
    ttlSeconds: settings.l1.ttlSeconds,
    memoryBytes: settings.l1.memoryBytes,
    logger,
  });
  // Where the decoder keeps its KV on the device (WebGPU), L2 keeps it there too, under a device-memory budget.
  const deviceKv = model.engine.kvOnDevice ? model.engine.kvOps : undefined;
  const prefixStore = prefixStoreTier(model, store, settings.l2, logger);
  const prefix = new PrefixKvCache({
    budgetBytes: deviceKv ? settings.l2.gpuBudgetBytes : settings.l2.budgetBytes,
    idleTtlMs: settings.l2.idleTtlSeconds * 1000,
    deviceKv,
    storeTier: prefixStore ?? undefined,
    logger,
  });
  const responses = new ResponseCache({
    store,
    fingerprint: model.fingerprint,
    ttlSeconds: settings.l3.ttlSeconds,
    memoryBytes: settings.l3.memoryBytes,
    nearDuplicates: { enabled: settings.l3.nearDuplicates },
    logger,
  });
  followFlushes(store, { features, prefix, responses }, logger);
  const checkModel = (ctx: SeamContext) => {
    if (ctx.model !== model.fingerprint)
      throw new Error(`cache seams of model ${model.fingerprint} asked for model ${ctx.model}`);
  };

  const lookUpFeatures = async (
    image: FeatureRequest,
    compute: () => Promise<ImageFeatures>,
    ctx: SeamContext,
  ): Promise<FeatureResult | null> => {
    const request = { tenant: ctx.tenant, identity: image.identity, grid: image.grid };
    if (image.required) return features.getOrCompute(request, compute, { useCache: ctx.flags.l1, signal: ctx.signal });
    // Prefill will not read these features (the reused prefix covers the image): serve them only when at hand, so the
    // report still says they are in L1; a miss is no miss of a needed look-up.
    const cached = ctx.flags.l1 ? await features.lookup(request) : null;
    return cached === null ? null : { features: cached, source: "l1" };
  };
  const featureSeam: FeatureSeam = {
    storage: features.storage,
    async getFeatures(image, compute, ctx) {
      checkModel(ctx);
      const result = await lookUpFeatures(image, compute, ctx);
      recordFeatureLookup({ required: image.required, l1: ctx.flags.l1, source: result?.source ?? null });
      return result;
    },
  };

  const prefixSeam: PrefixSeam = {
    async lookup(key, ctx) {
      checkModel(ctx);
      return ctx.flags.l2 ? prefix.lookup(l2Namespace(ctx.tenant, ctx.model), key) : null;
    },
    insert(key, kv, ctx) {
      try {
        checkModel(ctx);
        if (ctx.flags.l2) prefix.insert(l2Namespace(ctx.tenant, ctx.model), key, kv);
      } finally {
        releaseKvCache(kv);
      }
    },
  };

  const responseSeam: ResponseSeam = {
    async lookup(request, ctx) {
      checkModel(ctx);
      if (!ctx.flags.l3) return { result: "bypass" };
      const found = await responses.lookup(responseQuery(request, ctx.tenant));
      return found.result === "hit" ? { result: "hit", answer: found.record } : { result: found.result };
    },
    async store(request, answer, ctx) {
      checkModel(ctx);
      if (!ctx.flags.l3) return;
      await responses.store(responseQuery(request, ctx.tenant), {
        version: RESPONSE_RECORD_VERSION,
        ...answer,
        createdAt: Date.now(),
      });
    },
  };

  return {
    features,
    prefix,
    prefixStore,
    responses,
    seams: { features: featureSeam, prefix: prefixSeam, responses: responseSeam },
    precompute(image, tenant) {
      const { identity, grid } = modelImage(model, features.storage, {
        imageId: image.id,
        width: image.width,
        height: image.height,
      });
      const pixels = { data: image.data, width: image.width, height: image.height };
      return features.precompute({ tenant, identity, grid }, async () => (await encodeImage(model, pixels)).features);
    },
    imageState(imageId, tenant) {
      return features.precomputeState({ tenant, identity: imageFeatureIdentity(model, features.storage, imageId) });
    },
  };
}

/**
 * L2's store tier over the caches' store: with L2_STORE=on, or auto and a Redis store (the memory store is private to
 * this process, where the tier would only duplicate the memory tier). Off where the engine keeps its KV in device
 * memory: each turn's KV would cross into host memory to be written and back to be used, which costs more than the
 * GPU's prefill of the same tokens (that memory tier keeps its prefixes on the device, by reference).
 */
function prefixStoreTier(
  model: InferenceModel,
  store: BlobStore,
  settings: CacheSettings["l2"],
  logger?: Logger,
): PrefixKvStoreTier | null {
  if (settings.store === "off" || (settings.store === "auto" && store.kind !== "redis")) return null;
  if (model.engine.kvOnDevice) {
    if (settings.store === "on")
      logger?.warn("l2-store: L2_STORE=on is ignored: the engine keeps its KV in device memory (see the README)");
    return null;
  }
  const text = model.engine.config.text;
  return new PrefixKvStoreTier({
    store,
    shape: {
      layers: text.numHiddenLayers,
      kvHeads: text.numKeyValueHeads,
      headDim: text.headDim,
      dtype: floatTypeOf(model.engine.manifest.dtype),
    },
    blockTokens: DEFAULT_KV_BLOCK_TOKENS,
    ttlSeconds: settings.storeTtlSeconds,
    logger,
  });
}

/**
 * A pipeline request as L3 sees it. Each message becomes one turn (its text parts joined by newlines, its images in
 * order); what that flattening loses — where the images sat between text parts — goes into `extra` with the other
 * token-affecting settings L3's core identity does not know (repetition penalty, stop strings).
 */
function responseQuery(request: ResponseRequest, tenant: TenantId): ResponseQuery {
  const conversation: ConversationTurn[] = request.messages.map((message) => ({
    role: message.role,
    text: message.parts.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("\n"),
    images: message.parts.flatMap((part) => (part.type === "image" ? [part.feature] : [])),
  }));
  const { repetitionPenalty, stop, ...params } = request.params;
  return {
    tenant,
    conversation,
    params,
    caseFold: false,
    extra: {
      repetitionPenalty,
      stop: [...stop],
      layout: request.messages.map((message) =>
        message.parts.map((part) => (part.type === "text" ? "t" : "i")).join(""),
      ),
    },
  };
}
