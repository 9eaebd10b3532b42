import { describe, expect, it } from "vitest";
import type { ChatDoneEvent, ChatMetaEvent } from "@/lib/api/types";
import type { ImageId, SessionId } from "@/lib/ids";
import { answerBadges } from "./answerBadges";

const img = (n: number) => String(n).repeat(64).slice(0, 64) as ImageId;

function meta(cache: Partial<ChatMetaEvent["cache"]>): ChatMetaEvent {
  return {
    sessionId: "s" as SessionId,
    cache: { features: [], prefix: { reused: 0, total: 10 }, response: "miss", ...cache },
  };
}

const done: ChatDoneEvent = {
  usage: { promptTokens: 1500, completionTokens: 42 },
  timings: { ttftMs: 142.3, totalMs: 1830, tokensPerSecond: 23.44 },
};

const labels = (m: ChatMetaEvent | null, d: ChatDoneEvent | null, regenerated = false) =>
  answerBadges(m, d, regenerated).map((b) => `${b.kind}|${b.label}|${b.tone}`);

describe("answerBadges", () => {
  it("shows nothing before the meta event arrives", () => {
    expect(answerBadges(null, null)).toEqual([]);
  });

  it("names a single image's feature source", () => {
    expect(labels(meta({ features: [{ imageId: img(1), source: "precomputed" }] }), null)[0]).toBe(
      "features|features: precomputed|saved",
    );
    expect(labels(meta({ features: [{ imageId: img(1), source: "l1" }] }), null)[0]).toBe(
      "features|features: L1|saved",
    );
    expect(labels(meta({ features: [{ imageId: img(1), source: "computed" }] }), null)[0]).toBe(
      "features|features: computed|spent",
    );
  });

  it("counts mixed feature sources in a fixed order", () => {
    const features = [
      { imageId: img(1), source: "computed" as const },
      { imageId: img(2), source: "l1" as const },
      { imageId: img(3), source: "l1" as const },
    ];
    expect(labels(meta({ features }), null)[0]).toBe("features|features: 2 L1 · 1 computed|saved");
    expect(labels(meta({ features: features.slice(0, 1).concat(features.slice(0, 1)) }), null)[0]).toBe(
      "features|features: 2 computed|spent",
    );
  });

  it("omits the features badge for a question without images", () => {
    expect(labels(meta({}), null).map((l) => l.split("|")[0])).toEqual(["prefix", "response"]);
  });

  it("shows prefix reuse of total and the response cache result", () => {
    expect(labels(meta({ prefix: { reused: 1024, total: 1290 }, response: "miss" }), null)).toEqual([
      "prefix|prefix 1,024/1,290 reused|saved",
      "response|response cache miss|spent",
    ]);
    expect(labels(meta({ response: "bypass" }), null)).toEqual([
      "prefix|prefix 0/10 reused|spent",
      "response|response cache off|info",
    ]);
  });

  it("names the L2 tier that served the prefix when the server says", () => {
    expect(labels(meta({ prefix: { reused: 768, total: 830, tier: "store" } }), null)[0]).toBe(
      "prefix|prefix 768/830 reused from store|saved",
    );
    expect(labels(meta({ prefix: { reused: 829, total: 830, tier: "memory" } }), null)[0]).toBe(
      "prefix|prefix 829/830 reused from memory|saved",
    );
  });

  it("says a regenerated answer skipped the response cache", () => {
    expect(labels(meta({ response: "bypass" }), null, true)[1]).toBe("response|response cache skipped|info");
  });

  it("gives a response cache hit one badge with the server's time, and no prefix, TTFT or speed", () => {
    const hit = meta({
      features: [{ imageId: img(1), source: "l1" }],
      prefix: { reused: 0, total: 530 },
      response: "hit",
    });
    expect(labels(hit, null)).toEqual(["response|from response cache|saved"]);
    const fast = { ...done, timings: { ttftMs: 1.2, totalMs: 3.4, tokensPerSecond: 9000 } };
    expect(labels(hit, fast)).toEqual(["response|from response cache in 3 ms|saved"]);
  });

  it("adds time to first token and speed once the answer is done", () => {
    const badges = answerBadges(meta({}), done);
    expect(badges.slice(2).map((b) => `${b.kind}|${b.label}`)).toEqual(["ttft|TTFT 142 ms", "speed|23.4 tok/s"]);
    expect(badges[3].title).toBe("42 tokens in 1.83 s");
  });
});
