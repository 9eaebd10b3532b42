import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageInfoResponse, ImageUploadResponse } from "@/lib/api/types";
import { loadConfig } from "@/lib/config";
import { DEFAULT_TENANT, type ImageId } from "@/lib/ids";
import { createModelCaches, type ModelCaches } from "@/lib/inference/modelCaches";
import type { InferencePipeline } from "@/lib/inference/pipeline";
import { createLogger } from "@/lib/log";
import { visionEncoderRuns } from "@/lib/metrics/cacheMetrics";
import { loadCanonicalImage } from "@/lib/cache/imageStore";
import { PixelBudget } from "@/lib/images/pixelBudget";
import {
  handleImageGet,
  handleImageUpload,
  storeImage,
  type ImageDeps,
  type ImagePrecompute,
} from "@/lib/server/images";
import { ModelHost } from "@/lib/server/modelRuntime";
import { UploadPrecompute } from "@/lib/server/uploadPrecompute";
import { ask, userMessage } from "@/tests/support/chatScript";
import { patternRgb, png, quadrantsRgb } from "@/tests/support/testImages";
import { MAX_IMAGE_PIXELS, startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * L1 precompute through the upload path, and L1 shared between two app processes on one Redis: an upload starts the
 * encode at once (GET shows `encoding` → `ready` with its time), a question arriving meanwhile waits for that same
 * encode, and a second Node process asking about the uploaded image is served from L1 without running its encoder.
 */
const run = promisify(execFile);
const REPO = path.resolve(__dirname, "../..");
const silent = createLogger("silent");
const QUESTION = "What is in this picture?";

let harness: InferenceHarness;
let caches: ModelCaches;
let pipeline: InferencePipeline;

beforeAll(async () => {
  harness = await startInferenceHarness("tiny-deepstack-tied");
  caches = createModelCaches(harness.model, harness.store, loadConfig({}).caches, silent);
  pipeline = harness.pipeline({ seams: caches.seams });
});
afterAll(() => harness?.teardown());

const deps = (precompute: ImagePrecompute = caches): ImageDeps => ({
  store: harness.store,
  logger: silent,
  config: { imageTtlSeconds: 600, maxUploadBytes: 1 << 24, maxImagePixels: MAX_IMAGE_PIXELS },
  precompute,
});

async function upload(file: Buffer, precompute?: ImagePrecompute): Promise<ImageUploadResponse> {
  const form = new FormData();
  form.append("image", new Blob([new Uint8Array(file)]), "upload.png");
  const response = await handleImageUpload(
    new Request("http://127.0.0.1/api/images", { method: "POST", body: form }),
    deps(precompute),
  );
  expect(response.status).toBe(201);
  return (await response.json()) as ImageUploadResponse;
}

async function info(imageId: ImageId, precompute?: ImagePrecompute): Promise<ImageInfoResponse> {
  const response = await handleImageGet(imageId, false, deps(precompute));
  expect(response.status).toBe(200);
  return (await response.json()) as ImageInfoResponse;
}

async function encoderRuns(): Promise<number> {
  return (await visionEncoderRuns.get()).values.reduce((sum, value) => sum + value.value, 0);
}

describe("upload precompute (L1)", () => {
  it("starts encoding on upload: encoding → ready with the time it took, then the first question uses it", async () => {
    const runsBefore = await encoderRuns();
    const uploaded = await upload(await png(patternRgb(120, 90)));
    expect(uploaded.status).toBe("encoding");
    await expect
      .poll(async () => (await info(uploaded.imageId)).status, { interval: 5, timeout: 10_000 })
      .toBe("ready");
    const ready = await info(uploaded.imageId);
    expect(ready.encodingMs).toBeGreaterThanOrEqual(0);
    expect(await encoderRuns()).toBe(runsBefore + 1);

    const first = await ask(pipeline, [userMessage([{ image: uploaded.imageId }, QUESTION])]);
    expect(first.meta!.cache.features).toEqual([{ imageId: uploaded.imageId, source: "precomputed" }]);
    const second = await ask(pipeline, [userMessage([{ image: uploaded.imageId }, "Another question."])]);
    expect(second.meta!.cache.features).toEqual([{ imageId: uploaded.imageId, source: "l1" }]);
    expect(await encoderRuns()).toBe(runsBefore + 1);
  });

  it("lets a question that arrives during the encode wait for it instead of encoding again", async () => {
    const runsBefore = await encoderRuns();
    const uploaded = await upload(
      await png(
        quadrantsRgb(128, 96, [
          [200, 10, 10],
          [10, 200, 10],
          [10, 10, 200],
          [90, 90, 90],
        ]),
      ),
    );
    const answer = await ask(pipeline, [userMessage([{ image: uploaded.imageId }, QUESTION])]);
    expect(answer.meta!.cache.features).toEqual([{ imageId: uploaded.imageId, source: "precomputed" }]);
    expect(await encoderRuns()).toBe(runsBefore + 1);
  });

  it("reports an image uploaded while the model loads as encoding, and encodes it as soon as the model is up", async () => {
    const uploads = new UploadPrecompute(async (imageId, tenant) => {
      const image = await loadCanonicalImage(imageId, { store: harness.store }, tenant);
      return image && { id: imageId, ...image };
    }, silent);
    const runsBefore = await encoderRuns();
    const uploaded = await upload(await png(patternRgb(100, 140)), uploads);
    expect(uploaded.status).toBe("encoding");
    expect((await info(uploaded.imageId, uploads)).status).toBe("encoding");
    expect(await encoderRuns()).toBe(runsBefore);

    await uploads.modelReady(caches);
    await expect
      .poll(async () => (await info(uploaded.imageId, uploads)).status, { interval: 5, timeout: 10_000 })
      .toBe("ready");
    expect((await info(uploaded.imageId, uploads)).encodingMs).toBeGreaterThanOrEqual(0);
    expect(await encoderRuns()).toBe(runsBefore + 1);
    const answer = await ask(pipeline, [userMessage([{ image: uploaded.imageId }, QUESTION])]);
    expect(answer.meta!.cache.features).toEqual([{ imageId: uploaded.imageId, source: "precomputed" }]);
    expect(await encoderRuns()).toBe(runsBefore + 1);
  });

  it("encodes an upload the model host received while loading its bundle, once loading is done", async () => {
    const stored = await storeImage(await png(patternRgb(72, 136)), { ...deps(), precompute: null });
    if (!stored.ok) throw new Error(stored.error.message);
    const imageId = stored.answer.imageId;
    const pixels = (await loadCanonicalImage(imageId, { store: harness.store }))!;
    const runsBefore = await encoderRuns();
    const config = { ...loadConfig({}), modelDir: harness.bundleDir, executionProvider: "cpu" as const };
    const host = ModelHost.start({
      config,
      store: harness.store,
      cacheStore: harness.store,
      decodeBudget: new PixelBudget(1e9),
      logger: silent,
      createCaches: (model, store, logger) => createModelCaches(model, store, config.caches, logger),
    });
    try {
      // Nothing awaited since the start: the bundle is still loading.
      expect(host.status.state).toBe("loading");
      expect(host.precompute({ id: imageId, ...pixels }, DEFAULT_TENANT)).toBe("encoding");
      expect((await info(imageId, host)).status).toBe("encoding");
      await host.settled;
      expect(host.status.state).toBe("ready");
      await expect.poll(async () => (await info(imageId, host)).status, { interval: 5, timeout: 10_000 }).toBe("ready");
      expect((await info(imageId, host)).encodingMs).toBeGreaterThanOrEqual(0);
      expect(await encoderRuns()).toBe(runsBefore + 1);
    } finally {
      await host.release();
    }
  });

  it("reports a waiting upload ready, with nothing encoded, when the model fails to load", async () => {
    const uploads = new UploadPrecompute(async () => null, silent);
    const runsBefore = await encoderRuns();
    const uploaded = await upload(await png(patternRgb(90, 150)), uploads);
    expect(uploaded.status).toBe("encoding");
    uploads.modelFailed();
    expect(await info(uploaded.imageId, uploads)).toMatchObject({ status: "ready" });
    expect((await info(uploaded.imageId, uploads)).encodingMs).toBeUndefined();
    expect(await encoderRuns()).toBe(runsBefore);
  });

  it("serves an image encoded in this process to a second app process from L1, with zero encoder runs there", async () => {
    const uploaded = await upload(await png(patternRgb(160, 64)));
    await expect
      .poll(async () => (await info(uploaded.imageId)).status, { interval: 5, timeout: 10_000 })
      .toBe("ready");
    const here = await ask(pipeline, [userMessage([{ image: uploaded.imageId }, QUESTION])], {
      maxNewTokens: 6,
      cache: { l3: false },
    });

    const { stdout } = await run(
      "npx",
      [
        "tsx",
        path.join(REPO, "tests/support/cachePeer.ts"),
        harness.redis.url,
        harness.bundleDir,
        uploaded.imageId,
        QUESTION,
        "6",
      ],
      { cwd: REPO, timeout: 120_000 },
    );
    const peer = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
      features: { imageId: string; source: string }[];
      encoderRuns: number;
      response: string;
      tokenIds: number[];
    };
    expect(peer.features).toEqual([{ imageId: uploaded.imageId, source: "l1" }]);
    expect(peer.encoderRuns).toBe(0);
    expect(peer.tokenIds).toEqual(here.tokenIds);
  });
});
