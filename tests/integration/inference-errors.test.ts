import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { passThroughSeams, type CacheSeams } from "@/lib/inference/cacheSeams";
import { InferenceError } from "@/lib/inference/errors";
import type { GenerationEvent } from "@/lib/inference/events";
import { loadInferenceModel } from "@/lib/inference/inferenceModel";
import type { GenerationRequestInput } from "@/lib/inference/request";
import { GenerationScheduler } from "@/lib/inference/scheduler";
import { PixelBudget } from "@/lib/images/pixelBudget";
import { metricsRegistry } from "@/lib/metrics/registry";
import { BundleLoadError } from "@/lib/model/engine/errors";
import * as img from "@/tests/support/testImages";
import { fixtureDir } from "./engineFixtures";
import { collect, startInferenceHarness, type InferenceHarness } from "./inference-support";
import { asRequestError } from "@/lib/server/requestError";

/**
 * Every refusal happens before compute: the first `next()` rejects with a typed InferenceError (code + HTTP status),
 * no event was streamed, no cache seam was consulted past the point of refusal, no engine slot was taken and the
 * vision encoder never ran. A bundle that cannot be loaded fails with BundleLoadError naming the file and the reason.
 */
let h: InferenceHarness;
beforeAll(async () => {
  h = await startInferenceHarness("tiny-plain-untied");
});
afterAll(() => h?.teardown());

const UNKNOWN_ID = "0".repeat(64);

async function visionRuns(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric("vlcache_vision_encoder_runs_total")?.get();
  return metric?.values[0]?.value ?? 0;
}

/** Seams that count their calls and otherwise pass through. */
function countingSeams(): { seams: CacheSeams; calls: { features: number; prefix: number; responses: number } } {
  const calls = { features: 0, prefix: 0, responses: 0 };
  const p = passThroughSeams;
  return {
    calls,
    seams: {
      features: {
        storage: p.features.storage,
        getFeatures: (...args) => (calls.features++, p.features.getFeatures(...args)),
      },
      prefix: {
        lookup: (...args) => (calls.prefix++, p.prefix.lookup(...args)),
        insert: (...args) => p.prefix.insert(...args),
      },
      responses: {
        lookup: (...args) => (calls.responses++, p.responses.lookup(...args)),
        store: (...args) => p.responses.store(...args),
      },
    },
  };
}

/** Runs a request that must be refused; checks that nothing happened and returns the error. */
async function refusal(
  request: GenerationRequestInput,
  options: Parameters<InferenceHarness["pipeline"]>[0] = {},
): Promise<InferenceError> {
  const { seams, calls } = countingSeams();
  const scheduler = new GenerationScheduler();
  const pipeline = h.pipeline({ seams, scheduler, ...options });
  const runsBefore = await visionRuns();
  const events: GenerationEvent[] = [];
  let error: unknown = null;
  try {
    for await (const event of pipeline.generate(request)) events.push(event);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InferenceError);
  expect(events).toEqual([]);
  expect(calls).toEqual({ features: 0, prefix: 0, responses: 0 });
  expect([scheduler.running, scheduler.queueLength]).toEqual([0, 0]);
  expect(await visionRuns()).toBe(runsBefore);
  return error as InferenceError;
}

const ask = (content: GenerationRequestInput["messages"][number]["content"]): GenerationRequestInput => ({
  messages: [{ role: "user", content }],
  maxNewTokens: 4,
});

describe("refusals before compute", () => {
  it("bad parameters → invalid_request (400)", async () => {
    for (const bad of [
      { ...ask("Hi"), temperature: -0.5 },
      { ...ask("Hi"), maxNewTokens: 0 },
      { ...ask("Hi"), stop: Array.from({ length: 17 }, (_, i) => `s${i}`) },
      { messages: [] },
      { ...ask("Hi"), unknownParameter: true },
    ]) {
      const error = await refusal(bad as GenerationRequestInput);
      expect([error.code, asRequestError(error)!.status]).toEqual(["invalid_request", 400]);
    }
  });

  it("an unknown image id → image_not_found (404)", async () => {
    const error = await refusal(
      ask([
        { type: "image", imageId: UNKNOWN_ID },
        { type: "text", text: "What is this?" },
      ]),
    );
    expect([error.code, asRequestError(error)!.status]).toEqual(["image_not_found", 404]);
    expect(error.message).toContain(UNKNOWN_ID);
  });

  it("an image over the configured max pixels → image_too_large (413), stored or sent as bytes", async () => {
    const name = h.reference.images_in_order[0];
    const byId = await refusal(ask([{ type: "image", imageId: h.imageIds[name] }]), { maxImagePixels: 10_000 });
    expect([byId.code, asRequestError(byId)!.status]).toEqual(["image_too_large", 413]);
    const bytes = await readFile(path.join(fixtureDir(h.fixture), "images", name));
    const sent = await refusal(ask([{ type: "image", bytes }]), { maxImagePixels: 10_000 });
    expect([sent.code, asRequestError(sent)!.status]).toEqual(["image_too_large", 413]);
  });

  it("bytes that are no usable image → invalid_image (422) or unsupported_media_type (415)", async () => {
    const cases: [Buffer, string, number][] = [
      [img.textBytes(), "invalid_image", 422],
      [img.truncated(await img.png(img.patternRgb(64, 64))), "invalid_image", 422],
      [img.svgBytes(), "unsupported_media_type", 415],
      // 400 × 2 pixels: an aspect ratio over the processor's 200 : 1.
      [await img.png(img.patternRgb(400, 2)), "invalid_image", 422],
    ];
    for (const [bytes, code, status] of cases) {
      const error = await refusal(ask([{ type: "image", bytes }]));
      expect([error.code, asRequestError(error)!.status]).toEqual([code, status]);
    }
  });

  it("a prompt that leaves no room in the context → prompt_too_long (400)", async () => {
    const turn = h.reference.text_only;
    const error = await refusal({ messages: h.messages(turn) }, { maxContextTokens: turn.input_ids.length });
    expect([error.code, asRequestError(error)!.status]).toEqual(["prompt_too_long", 400]);
    expect(error.message).toContain(String(turn.input_ids.length));
    // One more position is enough for one token.
    const { done } = await collect(
      h.pipeline({ maxContextTokens: turn.input_ids.length + 1 }).generate({ messages: h.messages(turn) }),
    );
    expect(done.tokenIds).toEqual(turn.greedy.slice(0, 1));
  });

  it("more images than the request bound, the whole conversation counted → too_many_images (400)", async () => {
    const imageId = h.imageIds[h.reference.images_in_order[0]];
    const messages: GenerationRequestInput["messages"] = [
      {
        role: "user",
        content: [
          { type: "image", imageId },
          { type: "text", text: "One." },
        ],
      },
      { role: "assistant", content: "Yes." },
      {
        role: "user",
        content: [
          { type: "image", imageId },
          { type: "image", imageId },
        ],
      },
    ];
    const error = await refusal({ messages }, { imageLimits: { maxImages: 2, maxPixels: Infinity } });
    expect([error.code, asRequestError(error)!.status, error.message]).toEqual([
      "too_many_images",
      400,
      "the request holds 3 images (the whole conversation counts), more than the limit of 2",
    ]);
  });

  it("images whose pixels add up past the request bound → too_many_pixels (413), sized from their headers", async () => {
    const bytes = await img.png(img.patternRgb(64, 64));
    const error = await refusal(
      ask([
        { type: "image", bytes },
        { type: "image", bytes },
      ]),
      { imageLimits: { maxImages: 16, maxPixels: 64 * 64 * 2 - 1 } },
    );
    expect([error.code, asRequestError(error)!.status]).toEqual(["too_many_pixels", 413]);
  });

  it("checks the context from the image headers before decoding any image sent as bytes", async () => {
    // A header that declares 3000 × 3000 over pixel data cut in half, which would not decode: refused for its size,
    // so never decoded.
    const bomb = img.truncated(img.pngBomb(3000, 3000));
    const error = await refusal(ask([{ type: "image", bytes: bomb }]), { maxContextTokens: 20 });
    expect([error.code, asRequestError(error)!.status]).toEqual(["prompt_too_long", 400]);
    // With room for it, the decode is reached and fails.
    const decoded = await refusal(ask([{ type: "image", bytes: bomb }]));
    expect(decoded.code).toBe("invalid_image");
  });

  it("decodes images sent as bytes under the decode budget: decode_busy (503) while it stays spent, nothing held after", async () => {
    const bytes = await img.png(img.patternRgb(64, 64));
    const budget = new PixelBudget(64 * 64, 20);
    const held = await budget.acquire(64 * 64);
    const busy = await refusal(ask([{ type: "image", bytes }]), { decodeBudget: budget });
    expect([busy.code, asRequestError(busy)!.status]).toEqual(["decode_busy", 503]);
    held();
    const { done } = await collect(
      h
        .pipeline({ decodeBudget: budget })
        .generate({ ...ask([{ type: "image", bytes }]), maxNewTokens: 2, cache: { l1: false } }),
    );
    expect(done.usage.completionTokens).toBe(2);
    expect(budget.pixelsInUse).toBe(0);
  });

  it("a conversation the chat template rejects (an image in a system message) → invalid_request (400)", async () => {
    const imageId = h.imageIds[h.reference.images_in_order[0]];
    const error = await refusal({
      messages: [
        { role: "system", content: [{ type: "image", imageId }] },
        { role: "user", content: "Hi" },
      ],
    });
    expect([error.code, asRequestError(error)!.status]).toEqual(["invalid_request", 400]);
  });
});

describe("images sent as bytes", () => {
  it("are canonicalised like uploads: same id, same answer as by id", async () => {
    const name = h.reference.images_in_order[1];
    const bytes = await readFile(path.join(fixtureDir(h.fixture), "images", name));
    const question = { type: "text" as const, text: "Describe it." };
    const sent = await collect(h.pipeline().generate(ask([{ type: "image", bytes }, question])));
    const stored = await collect(h.pipeline().generate(ask([{ type: "image", imageId: h.imageIds[name] }, question])));
    expect(sent.meta?.cache.features).toEqual([{ imageId: h.imageIds[name], source: "computed" }]);
    expect(sent.done.tokenIds).toEqual(stored.done.tokenIds);
  });
});

describe("bundle load failures", () => {
  async function brokenCopy(breakIt: (dir: string) => Promise<void>): Promise<BundleLoadError> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vlcache-broken-bundle-"));
    try {
      await cp(h.bundleDir, dir, { recursive: true });
      await breakIt(dir);
      const error = await loadInferenceModel(dir, { executionProvider: "cpu" }).then(
        async (model) => {
          await model.release();
          return null;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BundleLoadError);
      return error as BundleLoadError;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("names a missing ONNX graph", async () => {
    const error = await brokenCopy((dir) => rm(path.join(dir, "onnx/decoder_model_merged.onnx")));
    expect(error.code).toBe("bundle_missing_file");
    expect(error.file.endsWith("onnx/decoder_model_merged.onnx")).toBe(true);
    expect(error.message).toContain("decoder_model_merged.onnx");
  });

  it("names a corrupt ONNX graph and why ORT refused it", async () => {
    const error = await brokenCopy((dir) => writeFile(path.join(dir, "onnx/vision_encoder.onnx"), "not a protobuf"));
    expect(error.code).toBe("bundle_session_failed");
    expect(error.file.endsWith("onnx/vision_encoder.onnx")).toBe(true);
    expect(error.reason.length).toBeGreaterThan(0);
  });

  it("names a broken tokenizer.json before opening any session", async () => {
    const error = await brokenCopy((dir) => writeFile(path.join(dir, "tokenizer.json"), "{ truncated"));
    expect(error.code).toBe("bundle_bad_file");
    expect(error.file.endsWith("tokenizer.json")).toBe(true);
  });
});

describe("store outage", () => {
  it("a request naming a stored image while the store is down → store_unavailable (503)", async () => {
    const imageId = h.imageIds[h.reference.images_in_order[0]];
    await h.redis.stop();
    try {
      const error = await refusal(ask([{ type: "image", imageId }]));
      expect([error.code, asRequestError(error)!.status]).toEqual(["store_unavailable", 503]);
    } finally {
      await h.redis.restart();
    }
  });
});
