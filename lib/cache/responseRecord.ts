/**
 * The L3 value: one stored answer, as JSON text.
 *
 * `tokens` are what the model generated (token-identical replay is the point of L3: the stream of a hit is rebuilt from
 * them), `text` is their decoding, `usage` and `finishReason` are reported to clients as if the answer had just been
 * generated. `createdAt` is milliseconds since the epoch.
 *
 * Invariants checked on both encode and decode: the format version matches; token ids are non-negative integers;
 * `usage.completionTokens` equals the number of tokens. A value that fails any check is a miss, never a partial answer.
 */

import { z } from "zod";

export const RESPONSE_RECORD_VERSION = 1;

const responseRecordSchema = z
  .strictObject({
    version: z.literal(RESPONSE_RECORD_VERSION),
    tokens: z.array(z.int().nonnegative()),
    text: z.string(),
    finishReason: z.enum(["stop", "length"]),
    usage: z.strictObject({
      promptTokens: z.int().nonnegative(),
      completionTokens: z.int().nonnegative(),
    }),
    createdAt: z.int().nonnegative(),
  })
  .refine((record) => record.usage.completionTokens === record.tokens.length, {
    message: "usage.completionTokens must equal the number of tokens",
    path: ["usage", "completionTokens"],
  });

export type ResponseRecord = z.infer<typeof responseRecordSchema>;

export type ResponseDecodeFailure = "json" | "version" | "schema";

export type ResponseDecodeResult =
  | { readonly ok: true; readonly record: ResponseRecord }
  | { readonly ok: false; readonly reason: ResponseDecodeFailure; readonly detail: string };

export class ResponseRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResponseRecordError";
  }
}

export function encodeResponseRecord(record: ResponseRecord): string {
  const checked = responseRecordSchema.safeParse(record);
  if (!checked.success) throw new ResponseRecordError(`invalid response record: ${z.prettifyError(checked.error)}`);
  return JSON.stringify(checked.data);
}

export function decodeResponseRecord(text: string): ResponseDecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: "json", detail: (error as Error).message };
  }
  const version = (parsed as { version?: unknown } | null)?.version;
  if (version !== RESPONSE_RECORD_VERSION) {
    return {
      ok: false,
      reason: "version",
      detail: `version ${String(version)}, this reader knows ${RESPONSE_RECORD_VERSION}`,
    };
  }
  const checked = responseRecordSchema.safeParse(parsed);
  if (!checked.success) return { ok: false, reason: "schema", detail: z.prettifyError(checked.error) };
  return { ok: true, record: checked.data };
}
