import { z } from "zod";
import { DEFAULT_TENANT, parseImageId, parseTenantId, type ImageId, type TenantId } from "@/lib/ids";
import { samplingParamsSchema } from "@/lib/model/sampling/samplingParams";
import { InferenceError } from "./errors";

/**
 * A generation request, validated at the edge of the pipeline with zod.
 *
 * Messages are in the Qwen3-VL chat format: `{role, content}` where content is a string or a list of parts, each
 * `{type: "text", text}` or an image. An image is named by its canonical image id (stored by an earlier upload) or
 * sent as raw file bytes, which the pipeline canonicalises exactly like an upload (same pixels ⇒ same id).
 * Sampling fields reuse the sampler's own schema (temperature 0 = greedy, the default). `cache` switches the three
 * cache levels per request (each defaults to on); `tenant` scopes every cache key; `signal` cancels the request.
 */

export const DEFAULT_MAX_NEW_TOKENS = 256;
export const MAX_NEW_TOKENS_LIMIT = 8192;
export const MAX_STOP_STRINGS = 16;
export const MAX_STOP_STRING_LENGTH = 256;

const textPartSchema = z.strictObject({ type: z.literal("text"), text: z.string() });
const imageIdPartSchema = z.strictObject({
  type: z.literal("image"),
  imageId: z
    .string()
    .refine((value) => parseImageId(value) !== null, "must be an image id (64 lowercase hex characters)")
    .transform((value) => value as ImageId),
});
const imageBytesPartSchema = z.strictObject({
  type: z.literal("image"),
  bytes: z
    .custom<Uint8Array>((value) => value instanceof Uint8Array, "must be a Uint8Array (or Buffer) of image file bytes")
    .refine((bytes) => bytes.length > 0, "must not be empty"),
});

const messageSchema = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.union([z.string(), z.array(z.union([textPartSchema, imageIdPartSchema, imageBytesPartSchema])).min(1)]),
});

const cacheFlagsSchema = z.strictObject({
  l1: z.boolean().default(true),
  l2: z.boolean().default(true),
  l3: z.boolean().default(true),
});

export const generationRequestSchema = z.strictObject({
  messages: z.array(messageSchema).min(1),
  maxNewTokens: z.int().min(1).max(MAX_NEW_TOKENS_LIMIT).default(DEFAULT_MAX_NEW_TOKENS),
  ...samplingParamsSchema.shape,
  stop: z.array(z.string().min(1).max(MAX_STOP_STRING_LENGTH)).max(MAX_STOP_STRINGS).default([]),
  cache: cacheFlagsSchema.prefault({}),
  tenant: z
    .string()
    .refine((value) => parseTenantId(value) !== null, "must be lowercase letters, digits, _ or - (at most 64)")
    .transform((value) => value as TenantId)
    .default(DEFAULT_TENANT),
  signal: z.instanceof(AbortSignal).optional(),
});

/** What callers send (optional fields may be left out). */
export type GenerationRequestInput = z.input<typeof generationRequestSchema>;

export type CacheFlags = z.output<typeof cacheFlagsSchema>;

export type TextPart = { readonly type: "text"; readonly text: string };
export type ImagePart =
  { readonly type: "image"; readonly imageId: ImageId } | { readonly type: "image"; readonly bytes: Uint8Array };
export type MessagePart = TextPart | ImagePart;

export interface RequestMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string | readonly MessagePart[];
}

/** A validated request, defaults filled in and ids branded. */
export interface GenerationRequest {
  readonly messages: readonly RequestMessage[];
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly repetitionPenalty: number;
  readonly seed?: number;
  readonly stop: readonly string[];
  readonly cache: CacheFlags;
  readonly tenant: TenantId;
  readonly signal?: AbortSignal;
}

/** Validates a request; the first problem becomes an `invalid_request` InferenceError naming the field. */
export function parseGenerationRequest(input: unknown): GenerationRequest {
  const parsed = generationRequestSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InferenceError("invalid_request", `${issue.path.join(".") || "request"}: ${issue.message}`);
  }
  return parsed.data;
}
