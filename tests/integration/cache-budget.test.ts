import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "@/lib/config";
import type { ImageId } from "@/lib/ids";
import { createModelCaches } from "@/lib/inference/modelCaches";
import { createLogger } from "@/lib/log";
import { liveKvBytes } from "@/lib/model/engine/kvCache";
import { storeImage } from "@/lib/server/images";
import { ask, userMessage, type ScriptTurn } from "@/tests/support/chatScript";
import { patternRgb, png, quadrantsRgb } from "@/tests/support/testImages";
import { MAX_IMAGE_PIXELS, startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * 500 mixed requests — new chats on one of eight images, follow-ups, exact repeats, text-only questions, random
 * per-request switches — against small L1/L2/L3 budgets: after every request each level holds at most its budget,
 * nothing stays locked, and no decoder KV is left unreleased.
 */
const REQUESTS = 500;
const L1_BUDGET = 16 * 1024;
const L2_BUDGET = 96 * 1024;
const L3_BUDGET = 8 * 1024;
type Messages = Parameters<typeof ask>[1];
const QUESTIONS = ["What is this?", "Describe it.", "Any text?", "Colours?", "Count the shapes.", "Summarise."];

let harness: InferenceHarness;
const images: ImageId[] = [];

beforeAll(async () => {
  harness = await startInferenceHarness("tiny-deepstack-tied");
  const deps = {
    store: harness.store,
    logger: createLogger("silent"),
    config: { imageTtlSeconds: 600, maxUploadBytes: 1 << 24, maxImagePixels: MAX_IMAGE_PIXELS },
  };
  const sizes = [
    [64, 64],
    [96, 64],
    [64, 96],
    [128, 64],
    [96, 96],
    [160, 96],
    [64, 128],
    [128, 128],
  ] as const;
  for (const [i, [width, height]] of sizes.entries()) {
    const picture =
      i % 2 === 0
        ? patternRgb(width, height)
        : quadrantsRgb(width, height, [
            [i * 20, 0, 0],
            [0, i * 20, 0],
            [0, 0, i * 20],
            [i * 10, i * 10, 0],
          ]);
    const stored = await storeImage(await png(picture), deps);
    if (!stored.ok) throw new Error(stored.error.message);
    images.push(stored.answer.imageId);
  }
});
afterAll(() => harness?.teardown());

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("cache budgets under load", () => {
  it(`holds every level within its budget over ${REQUESTS} mixed requests`, async () => {
    const defaults = loadConfig({}).caches;
    const caches = createModelCaches(harness.model, harness.store, {
      l1: { ...defaults.l1, memoryBytes: L1_BUDGET },
      l2: { ...defaults.l2, budgetBytes: L2_BUDGET },
      l3: { ...defaults.l3, memoryBytes: L3_BUDGET },
    });
    const pipeline = harness.pipeline({ seams: caches.seams });
    const next = random(20260101);
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
    const kvBaseline = liveKvBytes();
    const chats: Messages[number][][] = [];
    const counts = { newChat: 0, followUp: 0, repeat: 0, textOnly: 0, l2Reused: 0, l3Hits: 0 };
    let previous: Messages | null = null;

    for (let i = 0; i < REQUESTS; i++) {
      const roll = next();
      let messages: Messages;
      if (roll < 0.15 && previous !== null) {
        counts.repeat += 1;
        messages = previous;
      } else if (roll < 0.5 && chats.length > 0) {
        counts.followUp += 1;
        const chat = pick(chats);
        chat.push(userMessage([pick(QUESTIONS)]));
        messages = chat.slice();
      } else if (roll < 0.6) {
        counts.textOnly += 1;
        messages = [userMessage([pick(QUESTIONS)])];
      } else {
        counts.newChat += 1;
        const turn: ScriptTurn =
          next() < 0.2
            ? [{ image: pick(images) }, { image: pick(images) }, pick(QUESTIONS)]
            : [{ image: pick(images) }, pick(QUESTIONS)];
        const chat = [userMessage(turn)];
        chats.push(chat);
        if (chats.length > 12) chats.shift();
        messages = chat.slice();
      }
      const cache = { l1: next() > 0.05, l2: next() > 0.05, l3: next() > 0.05 };
      const answer = await ask(pipeline, messages, { maxNewTokens: 3, cache });
      const last = messages.at(-1);
      const chat = chats.find((c) => c.at(-1) === last);
      chat?.push({ role: "assistant", content: answer.text });
      previous = messages;
      if (answer.meta!.cache.prefix.reused > 0) counts.l2Reused += 1;
      if (answer.meta!.cache.response === "hit") counts.l3Hits += 1;

      expect(caches.features.memoryBytes).toBeLessThanOrEqual(L1_BUDGET);
      expect(caches.prefix.totalBytes).toBeLessThanOrEqual(L2_BUDGET);
      expect(caches.responses.memoryBytes).toBeLessThanOrEqual(L3_BUDGET);
      expect(caches.prefix.lockedBytes).toBe(0);
      // L2's store tier holds a turn's KV until its background write has sent the blocks.
      await caches.prefixStore?.drained();
      expect(liveKvBytes()).toBe(kvBaseline);
    }
    // The mix really exercised every level (and eviction: the budgets hold far less than was offered).
    expect(counts.followUp).toBeGreaterThan(100);
    expect(counts.l2Reused).toBeGreaterThan(100);
    expect(counts.l3Hits).toBeGreaterThan(20);
    expect(caches.features.memoryBytes).toBeGreaterThan(L1_BUDGET / 2);
    expect(caches.prefix.totalBytes).toBeGreaterThan(L2_BUDGET / 2);
  });
});
