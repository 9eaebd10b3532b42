import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argmax } from "@/lib/model/engine/decoderSteps";
import { Engine } from "@/lib/model/engine/engine";
import { liveKvBytes, releaseKvCache } from "@/lib/model/engine/kvCache";
import { fixtureBundle } from "./engineFixtures";

/** The one decoding loop (decodeLoop.ts) on a real engine: tokens as generate gives them, and KV ownership. */
describe("DecodeLoop", () => {
  let engine: Engine;
  const ids = [1, 2, 3, 4, 5, 6, 7, 8];

  beforeAll(async () => {
    engine = await Engine.load(await fixtureBundle("tiny-deepstack-tied"), {
      executionProvider: "cpu",
      intraOpNumThreads: 1,
    });
  });
  afterAll(() => engine?.release());

  it("gives the tokens of greedy generation and holds one KV cache at a time", async () => {
    const expected = await engine.generate({ inputIds: ids, maxNewTokens: 5, eosTokenIds: [] });
    const before = liveKvBytes();
    const prompt = engine.prepare(ids);
    const loop = engine.decodeLoop(prompt, await engine.prefill(prompt, []));
    const oneCache = liveKvBytes() - before;
    const tokens: number[] = [];
    for (let i = 0; i < 5; i++) {
      tokens.push(argmax(loop.logits));
      if (i < 4) await loop.feed(tokens[i]);
      expect(loop.length).toBe(ids.length + i + (i < 4 ? 1 : 0));
    }
    expect(tokens).toEqual(expected);
    // The superseded caches were released: what is live is the last one, one position longer per step fed.
    expect(liveKvBytes() - before).toBe((oneCache / ids.length) * (ids.length + 4));
    const kv = await loop.takeKv();
    expect(() => loop.logits).toThrow(/DecodeLoop/);
    loop.release();
    expect(liveKvBytes() - before).toBe((oneCache / ids.length) * (ids.length + 4));
    releaseKvCache(kv);
    expect(liveKvBytes()).toBe(before);
  });

  it("releases the current cache when a step fails, and then refuses to go on", async () => {
    const before = liveKvBytes();
    const prompt = engine.prepare(ids);
    const loop = engine.decodeLoop(prompt, await engine.prefill(prompt, []));
    await expect(loop.feed(engine.config.text.vocabSize)).rejects.toMatchObject({ code: "bad_input_ids" });
    expect(liveKvBytes()).toBe(before);
    await expect(loop.feed(1)).rejects.toThrow(/DecodeLoop/);
    loop.release();
    expect(liveKvBytes()).toBe(before);
  });
});
