/**
 * What makes two chat requests deserve the same stored answer (L3), short of the tenant and model fingerprint, which
 * the key adds (keys.ts).
 *
 * A request's identity is its whole conversation after text normalisation (textNormalize.ts), with each image named by
 * its feature key (pixels + preprocessing + feature storage), plus the generation parameters that can change tokens.
 * Only deterministic requests have one: greedy decoding (temperature 0), or sampling with a fixed seed. A sampled
 * request without a seed must produce a fresh answer each time, so `responseIdentity` returns null for it and the
 * caller bypasses L3.
 *
 * Greedy decoding ignores topP, topK and seed, so they are left out of a greedy identity: `{temperature: 0, topK: 5}`
 * and `{temperature: 0, topK: 50}` share an answer. Everything else that reaches the digest is written as canonical
 * JSON, so field order and number spelling never split a key.
 *
 * Near-duplicate matching (opt-in) is fuzzy only in the newest turn: the bucket digest fixes every earlier turn exactly
 * (role, normalised text, images), the newest turn's role and images, the parameters and the case-folding choice, and
 * SimHash compares only the newest turn's text within the bucket. Fuzzing the whole conversation instead would let a
 * long history drown a changed final question ("… on the left?" vs "… on the right?") under a few flipped bits.
 */

import type { Brand } from "@/lib/ids";
import { digestJson, type Digest, type JsonValue } from "@/lib/cache/canonicalJson";
import { featureKey, type FeatureIdentity } from "@/lib/cache/featureIdentity";
import { normalizeText } from "@/lib/cache/textNormalize";

export type ChatRole = "system" | "user" | "assistant";

export interface ConversationTurn {
  readonly role: ChatRole;
  readonly text: string;
  /** The turn's images in the order the chat template places them. */
  readonly images: readonly FeatureIdentity[];
}

/** The parameters generation actually ran with, defaults filled in (not the request's optional fields). */
export interface ResolvedGenerationParams {
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topP: number;
  readonly topK: number;
  readonly seed: number | null;
}

export interface ResponseIdentityInput {
  readonly conversation: readonly ConversationTurn[];
  readonly params: ResolvedGenerationParams;
  readonly caseFold: boolean;
}

export type ResponseDigest = Brand<Digest, "ResponseDigest">;
export type NearDuplicateDigest = Brand<Digest, "NearDuplicateDigest">;

export interface ResponseIdentity {
  readonly digest: ResponseDigest;
  /** Everything a near duplicate must share exactly. */
  readonly nearDuplicateBucket: NearDuplicateDigest;
  /** The newest turn's normalised text: what SimHash compares within the bucket. */
  readonly newestTurnText: string;
}

/** Bumped when what goes into a digest changes, so old entries stop matching instead of matching wrongly. */
const IDENTITY_VERSION = 1;

export function isDeterministic(params: ResolvedGenerationParams): boolean {
  return params.temperature === 0 || params.seed !== null;
}

/** Null for a request that is not deterministic (its answer must not be stored or served from L3). */
export function responseIdentity(input: ResponseIdentityInput): ResponseIdentity | null {
  if (input.conversation.length === 0) throw new RangeError("responseIdentity: the conversation has no turns");
  if (!isDeterministic(input.params)) return null;
  const turns = input.conversation.map((turn) => ({
    role: turn.role,
    text: normalizeText(turn.text, { caseFold: input.caseFold }),
    images: turn.images.map((image) => featureKey(image)),
  }));
  const shared = { version: IDENTITY_VERSION, caseFold: input.caseFold, params: tokenAffectingParams(input.params) };
  const newest = turns[turns.length - 1];
  return {
    digest: digestJson({ ...shared, conversation: turns }) as ResponseDigest,
    nearDuplicateBucket: digestJson({
      ...shared,
      history: turns.slice(0, -1),
      newest: { role: newest.role, images: newest.images },
    }) as NearDuplicateDigest,
    newestTurnText: newest.text,
  };
}

function tokenAffectingParams(params: ResolvedGenerationParams): JsonValue {
  if (params.temperature === 0) return { maxNewTokens: params.maxNewTokens, sampling: "greedy" };
  return {
    maxNewTokens: params.maxNewTokens,
    sampling: "seeded",
    temperature: params.temperature,
    topP: params.topP,
    topK: params.topK,
    seed: params.seed,
  };
}
