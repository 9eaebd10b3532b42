/**
 * Everything about a request that can be known without running the model, worked out before it may wait for the
 * engine: the images (resolved, sized, identified), the prompt tokens, the prompt's cache key and — for a
 * deterministic request — what its answer depends on (L3). Every refusal of a request happens here, so a request
 * that passes planning is refused by nothing but a full queue.
 *
 * Cheap before costly: the images are counted and sized from their headers, and the prompt is built and checked
 * against the context, before any image sent as bytes is decoded (requestImages.ts) — a request that cannot fit
 * costs no decode at all.
 */

import type { FeatureDtype } from "@/lib/cache/featureRecord";
import { buildPrefixKey, type PrefixKey } from "@/lib/cache/prefixKey";
import type { PixelBudget } from "@/lib/images/pixelBudget";
import type { ImageGrid } from "@/lib/images/preprocess/imageGrid";
import { ImagePreprocessError } from "@/lib/images/preprocess/errors";
import { isDeterministic } from "@/lib/model/sampling/samplingParams";
import type { ChatMessage, ContentPart } from "@/lib/text/chatTemplate";
import type { Prompt } from "@/lib/text/prompt";
import { TextError } from "@/lib/text/textErrors";
import type { ResponsePart, ResponseRequest } from "./cacheSeams";
import { InferenceError } from "./errors";
import type { ImageSource } from "./imageSource";
import type { InferenceModel } from "./inferenceModel";
import { identifiedModelImage, modelImageGrid, type ModelImage } from "./modelImage";
import type { GenerationRequest, ImagePart } from "./request";
import {
  identifyRequestImages,
  measureRequestImages,
  type RequestImage,
  type RequestImageLimits,
} from "./requestImages";

export interface PlannedImage extends ModelImage {
  readonly image: RequestImage;
}

export interface GenerationPlan {
  readonly request: GenerationRequest;
  /** One per image part, in prompt order (an image sent twice appears twice). */
  readonly images: readonly PlannedImage[];
  readonly prompt: Prompt;
  /** One key token per prompt token, images by feature key (prefixKey.ts). */
  readonly promptKey: PrefixKey;
  /** Upper bound on prompt + generated tokens. */
  readonly contextTokens: number;
  /** Null when the request is sampled without a seed: its answer is never served from or stored in L3. */
  readonly responseRequest: ResponseRequest | null;
}

export interface PlanDeps {
  readonly model: InferenceModel;
  readonly images: ImageSource;
  /** The features seam's storage dtype (part of each image's identity). */
  readonly featureStorage: FeatureDtype;
  readonly maxImagePixels: number;
  readonly contextTokens: number;
  /** Count and total-pixel bounds of a request's images; unbounded when absent. */
  readonly imageLimits?: RequestImageLimits;
  /** The process's decode budget, held while an image sent as bytes is decoded. */
  readonly decodeBudget?: PixelBudget;
  readonly signal?: AbortSignal;
}

export async function planGeneration(request: GenerationRequest, deps: PlanDeps): Promise<GenerationPlan> {
  const imageParts = request.messages.flatMap((m) =>
    typeof m.content === "string" ? [] : m.content.filter((p): p is ImagePart => p.type === "image"),
  );
  const resolveDeps = {
    source: deps.images,
    tenant: request.tenant,
    maxImagePixels: deps.maxImagePixels,
    limits: deps.imageLimits,
    budget: deps.decodeBudget,
    signal: deps.signal,
  };
  const measured = await measureRequestImages(imageParts, resolveDeps);
  const grids = measured.map((image, index) => gridOf(image, index, deps.model));
  const prompt = buildPrompt(request, grids, deps.model);
  if (prompt.inputIds.length >= deps.contextTokens) {
    throw new InferenceError(
      "prompt_too_long",
      `the prompt takes ${prompt.inputIds.length} tokens; the context holds ${deps.contextTokens}, including at least one generated token`,
    );
  }
  const identified = await identifyRequestImages(measured, resolveDeps);
  const images = identified.map((image, index): PlannedImage => ({
    image,
    ...identifiedModelImage(deps.model, deps.featureStorage, image.imageId, grids[index]),
  }));
  const promptKey = buildPrefixKey(
    prompt.inputIds,
    prompt.imageSpans.map((span) => ({ start: span.start, length: span.length, feature: images[span.imageIndex].key })),
  );
  return {
    request,
    images,
    prompt,
    promptKey,
    contextTokens: deps.contextTokens,
    responseRequest: isDeterministic(request) ? responseRequest(request, images, promptKey) : null,
  };
}

function gridOf(
  image: { part: ImagePart; width: number; height: number },
  index: number,
  model: InferenceModel,
): ImageGrid {
  try {
    return modelImageGrid(model, image.width, image.height);
  } catch (error) {
    if (error instanceof ImagePreprocessError && error.code !== "invalid_preprocessor_config") {
      const name = "imageId" in image.part ? image.part.imageId : `${index + 1} (sent as data)`;
      throw new InferenceError(
        error.code === "image_too_large" ? "image_too_large" : "invalid_image",
        `image ${name}: ${error.message}`,
      );
    }
    throw error;
  }
}

function buildPrompt(request: GenerationRequest, grids: readonly ImageGrid[], model: InferenceModel): Prompt {
  const messages: ChatMessage[] = request.messages.map((m) => ({
    role: m.role,
    content:
      typeof m.content === "string"
        ? m.content
        : m.content.map((p): ContentPart => (p.type === "text" ? p : { type: "image" })),
  }));
  try {
    return model.prompts.build(messages, grids, { addGenerationPrompt: true });
  } catch (error) {
    // Template failures caused by the request (an image in a system message, text spelling out <|image_pad|>) are the
    // request's fault; a broken tokenizer or template is the server's and stays a TextError.
    if (error instanceof TextError && error.fault === "request")
      throw new InferenceError("invalid_request", error.message);
    throw error;
  }
}

function responseRequest(
  request: GenerationRequest,
  images: readonly PlannedImage[],
  promptKey: PrefixKey,
): ResponseRequest {
  let next = 0;
  return {
    messages: request.messages.map((m) => ({
      role: m.role,
      parts:
        typeof m.content === "string"
          ? [{ type: "text", text: m.content }]
          : m.content.map((p): ResponsePart =>
              p.type === "text" ? p : { type: "image", feature: images[next++].identity },
            ),
    })),
    params: {
      maxNewTokens: request.maxNewTokens,
      temperature: request.temperature,
      topP: request.topP,
      topK: request.topK,
      seed: request.seed ?? null,
      repetitionPenalty: request.repetitionPenalty,
      stop: request.stop,
    },
    promptKey,
  };
}
