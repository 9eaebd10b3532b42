/**
 * The body of POST /api/chat (ChatRequest in lib/api/types.ts), validated with zod. Unknown fields are refused, so a
 * misspelt option fails loudly instead of being ignored. Sampling bounds are the sampler's own; the pipeline fills
 * in what is left out (greedy, 256 new tokens).
 */

import { z } from "zod";
import type { ChatRequest } from "@/lib/api/types";
import { parseImageId, type ImageId, type SessionId } from "@/lib/ids";
import { MAX_NEW_TOKENS_LIMIT } from "@/lib/inference/request";
import { samplingParamsSchema } from "@/lib/model/sampling/samplingParams";
import { RequestError } from "./requestError";
import { parseSessionId } from "./sessions";

const sampling = samplingParamsSchema.shape;

const chatRequestSchema = z
  .strictObject({
    sessionId: z
      .string()
      .refine((value) => parseSessionId(value) !== null, "must be a session id from an earlier `meta` event")
      .transform((value) => value as SessionId)
      .optional(),
    message: z.strictObject({
      text: z.string(),
      imageIds: z
        .array(
          z
            .string()
            .refine((value) => parseImageId(value) !== null, "must be an image id (64 lowercase hex characters)")
            .transform((value) => value as ImageId),
        )
        // How many: MAX_IMAGES_PER_REQUEST, checked by the pipeline over the whole conversation (requestImages.ts).
        .optional(),
    }),
    params: z
      .strictObject({
        maxNewTokens: z.int().min(1).max(MAX_NEW_TOKENS_LIMIT).optional(),
        temperature: sampling.temperature.unwrap().optional(),
        topP: sampling.topP.unwrap().optional(),
        topK: sampling.topK.unwrap().optional(),
        seed: sampling.seed,
      })
      .optional(),
    cache: z
      .strictObject({ l1: z.boolean().optional(), l2: z.boolean().optional(), l3: z.boolean().optional() })
      .optional(),
    regenerate: z.boolean().optional(),
    keepTurns: z.int().min(0).optional(),
  })
  .refine((r) => r.message.text.trim() !== "" || (r.message.imageIds?.length ?? 0) > 0, {
    message: "a message needs text or at least one image",
    path: ["message"],
  })
  .refine((r) => !r.regenerate || r.sessionId !== undefined, {
    message: "regenerate needs the sessionId of the answer to replace",
    path: ["regenerate"],
  })
  .refine((r) => r.keepTurns === undefined || r.sessionId !== undefined, {
    message: "keepTurns needs the sessionId of the conversation to edit",
    path: ["keepTurns"],
  })
  .refine((r) => r.keepTurns === undefined || !r.regenerate, {
    message:
      "send either regenerate (replace the last turn) or keepTurns (replace the turns from that index), not both",
    path: ["keepTurns"],
  });

export type ValidChatRequest = ChatRequest & z.output<typeof chatRequestSchema>;

export function parseChatRequest(body: unknown, limits: { maxPromptChars: number }): ValidChatRequest {
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RequestError(400, "invalid_request", `${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  const { text } = parsed.data.message;
  if (text.length > limits.maxPromptChars) {
    throw new RequestError(
      413,
      "prompt_too_large",
      `message.text has ${text.length} characters, more than the limit of ${limits.maxPromptChars} (MAX_PROMPT_CHARS)`,
    );
  }
  return parsed.data;
}
