import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { l1FeaturesKey } from "@/lib/cache/keys";
import { loadConfig } from "@/lib/config";
import { parseTenantId, type ImageId } from "@/lib/ids";
import { loadInferenceModel, type InferenceModel } from "@/lib/inference/inferenceModel";
import { createModelCaches } from "@/lib/inference/modelCaches";
import { imageFeatureIdentity } from "@/lib/inference/modelImage";
import { InferencePipeline } from "@/lib/inference/pipeline";
import { storedImages } from "@/lib/inference/imageSource";
import { createLogger } from "@/lib/log";
import { liveDeviceImageFeatures } from "@/lib/model/engine/imageFeatures";
import { collect, MAX_IMAGE_PIXELS, startInferenceHarness, type InferenceHarness } from "./inference-support";

/**
 * A request's image features on the device path (requestFeatures.ts) through the real pipeline, over CPU sessions
 * with imageFeaturesOnDevice and a real redis-server: the answer is token-identical to the host path's, and L1 holds
 * the same record bytes — also when the request ends at its first token, or is cancelled before it (the features are
 * then still downloaded and stored, and a later request reads them from L1).
 */
const FIXTURE = "tiny-deepstack-tied";
const tenant = parseTenantId("public")!;
const caches = { l1: true, l2: false, l3: false } as const;

describe("image features on the device path, through the pipeline", () => {
  let h: InferenceHarness;
  let device: InferenceModel;

  beforeAll(async () => {
    h = await startInferenceHarness(FIXTURE);
    device = await loadInferenceModel(h.bundleDir, { executionProvider: "cpu", imageFeaturesOnDevice: true });
  });
  afterAll(async () => {
    await device?.release();
    await h?.teardown();
  });

  /** A pipeline over `model` with a fresh L1 (own process memory) on the harness's Redis, L1 emptied first. */
  async function pipelineOf(model: InferenceModel): Promise<InferencePipeline> {
    await Promise.all(imageIds().map((id) => h.store.del(keyOf(id))));
    const settings = loadConfig({}).caches;
    const seams = createModelCaches(model, h.store, settings, createLogger("silent")).seams;
    return new InferencePipeline({ model, images: storedImages(h.store), maxImagePixels: MAX_IMAGE_PIXELS, seams });
  }
  const imageIds = (): ImageId[] => Object.values(h.imageIds);
  const keyOf = (id: ImageId) => l1FeaturesKey(tenant, h.model.fingerprint, imageFeatureIdentity(h.model, "fp32", id));
  const records = async () => Promise.all(imageIds().map((id) => h.store.get(keyOf(id))));

  it("answers token-identically and stores the same L1 records as the host path", async () => {
    expect(device.engine.imageFeaturesOnDevice).toBe(true);
    expect(h.model.engine.imageFeaturesOnDevice).toBe(false);
    const request = { messages: h.messages(h.reference.turn1), maxNewTokens: 12, cache: caches };
    const hostAnswer = await collect((await pipelineOf(h.model)).generate(request));
    const hostRecords = await records();
    expect(hostRecords.every((record) => record !== null && record.length > 1000)).toBe(true);

    const pipeline = await pipelineOf(device);
    const cold = await collect(pipeline.generate(request));
    expect(cold.meta?.cache.features.map((f) => f.source)).toEqual(["computed", "computed"]);
    expect(cold.done.tokenIds).toEqual(hostAnswer.done.tokenIds);
    expect(cold.done.tokenIds).toEqual(h.reference.turn1.greedy.slice(0, 12));
    const deviceRecords = await records();
    deviceRecords.forEach((record, k) => expect(record?.equals(hostRecords[k]!)).toBe(true));

    const again = await collect(pipeline.generate(request));
    expect(again.meta?.cache.features.map((f) => f.source)).toEqual(["l1", "l1"]);
    expect(again.done.tokenIds).toEqual(hostAnswer.done.tokenIds);
    expect(liveDeviceImageFeatures()).toBe(0);
  });

  it("stores the features when the answer ends at its first token, or is cancelled before it", async () => {
    const request = { messages: h.messages(h.reference.turn1), cache: caches };
    const hostRecords = await (async () => {
      await collect((await pipelineOf(h.model)).generate({ ...request, maxNewTokens: 1 }));
      return records();
    })();

    const one = await collect((await pipelineOf(device)).generate({ ...request, maxNewTokens: 1 }));
    expect(one.done.tokenIds).toEqual(h.reference.turn1.greedy.slice(0, 1));
    (await records()).forEach((record, k) => expect(record?.equals(hostRecords[k]!)).toBe(true));

    const pipeline = await pipelineOf(device);
    let sawMeta = false;
    for await (const event of pipeline.generate({ ...request, maxNewTokens: 8 })) {
      if (event.type === "meta") {
        sawMeta = true;
        break;
      }
    }
    expect(sawMeta).toBe(true);
    // The next request runs once the cancelled one has left the engine, and finds both images in L1.
    const after = await collect(pipeline.generate({ ...request, maxNewTokens: 4 }));
    expect(after.meta?.cache.features.map((f) => f.source)).toEqual(["l1", "l1"]);
    expect(after.done.tokenIds).toEqual(h.reference.turn1.greedy.slice(0, 4));
    (await records()).forEach((record, k) => expect(record?.equals(hostRecords[k]!)).toBe(true));
    expect(liveDeviceImageFeatures()).toBe(0);
  });
});
