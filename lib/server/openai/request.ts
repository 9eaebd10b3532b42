/**
 * POST /v1/chat/completions request → the pipeline's request. Pure: no I/O, so every translation rule is unit-tested.
 *
 * Accepted: `messages` with roles system / developer (treated as system) / user / assistant and content as a string or
 * parts (`text`, and `image_url` whose url is a `data:image/…;base64,…` URL or the id of an image uploaded through
 * POST /api/images); `max_tokens` / `max_completion_tokens`, `temperature`, `top_p`, `top_k` (extension), `seed`,
 * `stop`, `stream`, `stream_options.include_usage`. Omitted sampling fields keep vlcache's defaults (greedy), so a
 * request without `temperature` is deterministic and cacheable.
 * Refused with 400 (never silently ignored, since the answer would not be what was asked): n > 1, tools, logprobs,
 * non-text response formats, non-zero frequency/presence penalties, remote image URLs (the server fetches nothing).
 * Other fields (user, metadata, …) are ignored.
 */

import { z } from "zod";
import { parseImageId, type ImageId } from "@/lib/ids";
import { MAX_NEW_TOKENS_LIMIT, MAX_STOP_STRINGS, type GenerationRequestInput } from "@/lib/inference/request";
import { RequestError } from "@/lib/server/requestError";

export interface ChatCompletionRequest {
  readonly model: string;
  readonly stream: boolean;
  /** With `stream`: send a last chunk carrying `usage` before `[DONE]`. */
  readonly includeUsage: boolean;
  /** The pipeline request, without tenant and signal (the route adds those). */
  readonly generation: Omit<GenerationRequestInput, "tenant" | "signal">;
}

const imageUrlPart = z.object({
  type: z.literal("image_url"),
  image_url: z.union([z.string(), z.object({ url: z.string(), detail: z.string().optional() })]),
});
const textPart = z.object({ type: z.literal("text"), text: z.string() });

const messageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.union([z.string(), z.array(z.union([textPart, imageUrlPart])).min(1)]).nullable(),
});

const unsupported = (what: string) => ({ message: `${what} is not supported by this server` });

const requestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.int().min(1).max(MAX_NEW_TOKENS_LIMIT).nullish(),
  max_completion_tokens: z.int().min(1).max(MAX_NEW_TOKENS_LIMIT).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.int().min(0).nullish(),
  seed: z.int().min(0).nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP_STRINGS)]).nullish(),
  n: z.literal(1, unsupported("n other than 1")).nullish(),
  logprobs: z.literal(false, unsupported("logprobs")).nullish(),
  tools: z.array(z.unknown()).max(0, unsupported("tools")).nullish(),
  response_format: z.object({ type: z.literal("text", unsupported("a response_format other than text")) }).nullish(),
  frequency_penalty: z.literal(0, unsupported("frequency_penalty")).nullish(),
  presence_penalty: z.literal(0, unsupported("presence_penalty")).nullish(),
});

type OpenAIMessage = z.infer<typeof messageSchema>;
type GenerationMessage = GenerationRequestInput["messages"][number];
type GenerationPart = Exclude<GenerationMessage["content"], string>[number];

export interface TranslationLimits {
  /** Largest total of message text, in characters (MAX_PROMPT_CHARS). */
  readonly maxPromptChars: number;
}

export function parseChatCompletionRequest(body: unknown, limits: TranslationLimits): ChatCompletionRequest {
  const parsed = requestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RequestError(400, "invalid_request", `${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  const r = parsed.data;
  const messages = r.messages.map((message, index) => translateMessage(message, index));
  const promptChars = messages.reduce((sum, m) => sum + textLength(m.content), 0);
  if (promptChars > limits.maxPromptChars) {
    throw new RequestError(
      413,
      "prompt_too_large",
      `the messages hold ${promptChars} characters of text, more than the limit of ${limits.maxPromptChars} (MAX_PROMPT_CHARS)`,
    );
  }
  const maxNewTokens = r.max_completion_tokens ?? r.max_tokens;
  const generation: ChatCompletionRequest["generation"] = {
    messages,
    ...(maxNewTokens != null && { maxNewTokens }),
    ...(r.temperature != null && { temperature: r.temperature }),
    ...(r.top_p != null && { topP: r.top_p }),
    ...(r.top_k != null && { topK: r.top_k }),
    ...(r.seed != null && { seed: r.seed }),
    ...(r.stop != null && { stop: typeof r.stop === "string" ? [r.stop] : r.stop }),
  };
  return {
    model: r.model,
    stream: r.stream ?? false,
    includeUsage: r.stream_options?.include_usage ?? false,
    generation,
  };
}

function translateMessage(message: OpenAIMessage, index: number): GenerationMessage {
  const role = message.role === "developer" ? "system" : message.role;
  if (message.content === null) return { role, content: "" };
  if (typeof message.content === "string") return { role, content: message.content };
  return {
    role,
    content: message.content.map((part, partIndex): GenerationPart => {
      if (part.type === "text") return part;
      const url = typeof part.image_url === "string" ? part.image_url : part.image_url.url;
      return imagePart(url, `messages.${index}.content.${partIndex}.image_url`);
    }),
  };
}

const DATA_URL = /^data:image\/[\w.+-]+(?:;[\w-]+=[^;,]*)*;base64,/i;

/** A `data:image/…;base64,` URL becomes the image's bytes; a bare image id names an uploaded image. */
export function imagePart(
  url: string,
  where = "image_url",
): { type: "image"; imageId: ImageId } | { type: "image"; bytes: Uint8Array } {
  const imageId = parseImageId(url);
  if (imageId) return { type: "image", imageId };
  const header = DATA_URL.exec(url);
  if (header) {
    const base64 = url.slice(header[0].length);
    if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(base64))
      throw new RequestError(400, "invalid_image_url", `${where}: the data URL is not valid base64`);
    const bytes = Buffer.from(base64, "base64");
    if (bytes.length === 0) throw new RequestError(400, "invalid_image_url", `${where}: the data URL holds no bytes`);
    return { type: "image", bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) };
  }
  throw new RequestError(
    400,
    "unsupported_image_url",
    `${where}: send the image as a data:image/…;base64, URL or as the imageId of an upload (POST /api/images); this server fetches no URLs`,
  );
}

function textLength(content: GenerationMessage["content"]): number {
  if (typeof content === "string") return content.length;
  return content.reduce((sum, part) => sum + (part.type === "text" ? part.text.length : 0), 0);
}
