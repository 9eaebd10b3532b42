import { describe, expect, it } from "vitest";
import { parseImageId } from "@/lib/ids";
import { preprocessDigest, type FeatureIdentity } from "@/lib/cache/featureIdentity";
import {
  isDeterministic,
  responseIdentity,
  type ConversationTurn,
  type ResolvedGenerationParams,
  type ResponseIdentityInput,
} from "@/lib/cache/responseIdentity";

const preprocess = preprocessDigest({ maxPixels: 1003520 });
const image = (c: string, storage: FeatureIdentity["storage"] = "fp32"): FeatureIdentity => ({
  imageId: parseImageId(c.repeat(64))!,
  preprocess,
  storage,
});
const greedy: ResolvedGenerationParams = { maxNewTokens: 64, temperature: 0, topP: 1, topK: 0, seed: null };
const seeded: ResolvedGenerationParams = { maxNewTokens: 64, temperature: 0.7, topP: 0.9, topK: 40, seed: 42 };

const conversation: ConversationTurn[] = [
  { role: "system", text: "You are helpful.", images: [] },
  { role: "user", text: "What is in this image?", images: [image("a")] },
];
const input: ResponseIdentityInput = { conversation, params: greedy, caseFold: false };

function identity(overrides: Partial<ResponseIdentityInput>) {
  const result = responseIdentity({ ...input, ...overrides });
  if (result === null) throw new Error("expected a deterministic request");
  return result;
}

const withNewest = (turn: Partial<ConversationTurn>): ConversationTurn[] => [
  conversation[0],
  { ...conversation[1], ...turn },
];

describe("responseIdentity", () => {
  it("exists only for deterministic requests: greedy, or sampled with a fixed seed", () => {
    expect(isDeterministic(greedy)).toBe(true);
    expect(isDeterministic(seeded)).toBe(true);
    expect(isDeterministic({ ...seeded, seed: null })).toBe(false);
    expect(responseIdentity({ ...input, params: { ...seeded, seed: null } })).toBeNull();
    expect(responseIdentity({ ...input, params: seeded })).not.toBeNull();
  });

  it("ignores how the text was typed: spacing, compatibility characters", () => {
    const base = identity({}).digest;
    expect(identity({ conversation: withNewest({ text: "  What   is in this\nimage?\u00a0" }) }).digest).toBe(base);
    expect(identity({ conversation: withNewest({ text: "Ｗhat is in this image？" }) }).digest).toBe(base);
  });

  it("separates letter case unless case folding is on, and folding is part of the identity", () => {
    const shouting = withNewest({ text: "WHAT IS IN THIS IMAGE?" });
    expect(identity({ conversation: shouting }).digest).not.toBe(identity({}).digest);
    expect(identity({ conversation: shouting, caseFold: true }).digest).toBe(identity({ caseFold: true }).digest);
    expect(identity({ caseFold: true }).digest).not.toBe(identity({}).digest);
  });

  it("changes with any image, its preprocessing or storage, any turn, any role", () => {
    const base = identity({}).digest;
    const variants = [
      identity({ conversation: withNewest({ images: [image("b")] }) }),
      identity({ conversation: withNewest({ images: [image("a", "int8")] }) }),
      identity({
        conversation: withNewest({ images: [{ ...image("a"), preprocess: preprocessDigest({ maxPixels: 1 }) }] }),
      }),
      identity({ conversation: withNewest({ images: [image("a"), image("a")] }) }),
      identity({ conversation: withNewest({ images: [] }) }),
      identity({ conversation: [conversation[1]] }),
      identity({ conversation: [{ ...conversation[0], text: "You are terse." }, conversation[1]] }),
      identity({ conversation: [{ ...conversation[0], role: "user" }, conversation[1]] }),
    ].map((v) => v.digest);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it("keeps only token-affecting parameters: greedy ignores topP, topK and seed", () => {
    const base = identity({}).digest;
    expect(identity({ params: { ...greedy, topP: 0.5, topK: 7, seed: 3 } }).digest).toBe(base);
    expect(identity({ params: { ...greedy, maxNewTokens: 65 } }).digest).not.toBe(base);
    const sampled = identity({ params: seeded }).digest;
    expect(sampled).not.toBe(base);
    for (const change of [{ seed: 43 }, { topP: 0.8 }, { topK: 41 }, { temperature: 0.8 }]) {
      expect(identity({ params: { ...seeded, ...change } }).digest).not.toBe(sampled);
    }
  });

  it("puts near duplicates of the newest turn in one bucket and compares only that turn's text", () => {
    const base = identity({});
    const typo = identity({ conversation: withNewest({ text: "What is in this imgae?" }) });
    expect(typo.digest).not.toBe(base.digest);
    expect(typo.nearDuplicateBucket).toBe(base.nearDuplicateBucket);
    expect(base.newestTurnText).toBe("What is in this image?");
    expect(typo.newestTurnText).toBe("What is in this imgae?");
  });

  it("gives a different bucket when history, images, parameters or the newest role differ", () => {
    const bucket = identity({}).nearDuplicateBucket;
    expect(
      identity({ conversation: [{ ...conversation[0], text: "Be brief." }, conversation[1]] }).nearDuplicateBucket,
    ).not.toBe(bucket);
    expect(identity({ conversation: withNewest({ images: [image("b")] }) }).nearDuplicateBucket).not.toBe(bucket);
    expect(identity({ params: { ...greedy, maxNewTokens: 8 } }).nearDuplicateBucket).not.toBe(bucket);
    expect(identity({ conversation: withNewest({ role: "assistant" }) }).nearDuplicateBucket).not.toBe(bucket);
  });

  it("refuses an empty conversation", () => {
    expect(() => responseIdentity({ ...input, conversation: [] })).toThrow(RangeError);
  });
});
