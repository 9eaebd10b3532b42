import { readFile } from "node:fs/promises";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { patchify, pixelValueImage, pixelValueTable } from "@/lib/images/preprocess/patchify";
import { preprocessImage, preprocessToPixelImage } from "@/lib/images/preprocess/preprocessImage";
import { loadPreprocessorConfig } from "@/lib/images/preprocess/preprocessorConfig";
import type { BundleDtype } from "@/lib/model/bundleManifest";
import { argmax } from "@/lib/model/engine/decoderSteps";
import { Engine } from "@/lib/model/engine/engine";
import { providerSessionFactory } from "@/lib/model/engine/executionProvider";
import { FeatureOps } from "@/lib/model/engine/featureOps";
import {
  liveDeviceImageFeatures,
  patchRowSize,
  releaseDeviceImageFeatures,
  type DeviceImageFeatures,
  type ImageFeatures,
  type PrefillImage,
} from "@/lib/model/engine/imageFeatures";
import { releaseKvCache, type KvCache } from "@/lib/model/engine/kvCache";
import {
  fixtureDir,
  fixtureBundle,
  fixtureGrids,
  fixturePixelValues,
  readReference,
  temporaryFixtureBundle,
  type Reference,
} from "./engineFixtures";

/**
 * The device path of image features (featureOps.ts) over real CPU sessions: an engine with imageFeaturesOnDevice
 * keeps each image's encoder outputs as tensors, puts them into prefill's inputs with a small graph and downloads them
 * with another — the same code that runs on WebGPU, where the tensors are device buffers. Everything must be
 * bit-for-bit the host path's: downloaded features, prefill logits (device images alone, mixed with host images,
 * prefills that start or end inside an image) and the greedy tokens of the fixtures' references; and pixel values cut
 * into patches by the device's patchify graph, and the features encoded from them.
 */
describe.each<[string, BundleDtype]>([
  ["tiny-deepstack-tied", "fp32"],
  ["tiny-plain-untied", "fp32"],
  ["tiny-deepstack-tied", "fp16"],
])("device image features: %s %s", (name, dtype) => {
  let engine: Engine;
  let reference: Reference;
  let pixels: Float32Array;
  let removeBundle: (() => Promise<void>) | null = null;
  let bundleDir: string;
  /** Per image of the reference, its host features from `encodeImages`. */
  let host: ImageFeatures[];

  beforeAll(async () => {
    let dir: string;
    if (dtype === "fp32") dir = await fixtureBundle(name);
    else ({ dir, remove: removeBundle } = await temporaryFixtureBundle(name, dtype));
    bundleDir = dir;
    engine = await Engine.load(dir, { executionProvider: "cpu", intraOpNumThreads: 1, imageFeaturesOnDevice: true });
    reference = readReference(name);
    pixels = fixturePixelValues(name, reference);
    host = await engine.encodeImages(pixels, fixtureGrids(reference));
  });
  afterAll(async () => {
    await engine?.release();
    await removeBundle?.();
  });

  /** Image k's patches, cut from the fixture's concatenated pixel values. */
  const imagePixels = (k: number): Float32Array => {
    const grids = fixtureGrids(reference);
    const row = patchRowSize(engine.config);
    const start = grids.slice(0, k).reduce((n, g) => n + g.t * g.h * g.w, 0) * row;
    return pixels.subarray(start, start + grids[k].t * grids[k].h * grids[k].w * row);
  };
  const onDevice = (): Promise<DeviceImageFeatures[]> =>
    Promise.all(fixtureGrids(reference).map((grid, k) => engine.encodeImageOnDevice(imagePixels(k), grid)));

  /** Greedy tokens after a prefill of the whole prompt in the given pieces (each range's end). */
  async function run(
    images: readonly PrefillImage[],
    ends: readonly number[],
    steps: number,
  ): Promise<{ logits: Float32Array; tokens: number[] }> {
    const prompt = engine.prepare(reference.turn1.input_ids, fixtureGrids(reference));
    let kv: KvCache = engine.emptyKv();
    let logits: Float32Array = new Float32Array(0);
    for (const end of ends) {
      const step = await engine.prefill(prompt, images, kv, end);
      releaseKvCache(kv);
      kv = step.kv;
      logits = step.logits;
    }
    const loop = engine.decodeLoop(prompt, { logits, kv });
    const tokens: number[] = [];
    try {
      for (let i = 0; i < steps; i++) {
        tokens.push(argmax(loop.logits));
        if (i + 1 < steps) await loop.feed(tokens.at(-1)!);
      }
    } finally {
      loop.release();
    }
    return { logits, tokens };
  }

  it("downloads exactly the features encodeImages gives", async () => {
    const device = await onDevice();
    try {
      for (const [k, image] of device.entries()) {
        const downloaded = await engine.downloadImageFeatures(image);
        expect(downloaded.grid).toEqual(host[k].grid);
        expect(downloaded.tokens).toBe(host[k].tokens);
        expect(Buffer.from(downloaded.features.buffer).equals(Buffer.from(host[k].features.buffer))).toBe(true);
        expect(downloaded.deepstack === null).toBe(host[k].deepstack === null);
        if (downloaded.deepstack && host[k].deepstack)
          expect(Buffer.from(downloaded.deepstack.buffer).equals(Buffer.from(host[k].deepstack.buffer))).toBe(true);
      }
    } finally {
      device.forEach(releaseDeviceImageFeatures);
    }
    expect(liveDeviceImageFeatures()).toBe(0);
  });

  it("encodes a normalised image cut into patches on the device to the host path's features", async () => {
    const config = await loadPreprocessorConfig(bundleDir);
    for (const file of reference.images_in_order) {
      const input = { kind: "encoded" as const, data: await readFile(path.join(fixtureDir(name), "images", file)) };
      const patches = await preprocessImage(input, config);
      const image = await preprocessToPixelImage(input, config);
      expect(image.grid).toEqual(patches.grid);
      const [expected] = await engine.encodeImages(patches.pixelValues, [patches.grid]);
      const device = await engine.encodeImageOnDevice(image, image.grid);
      try {
        const got = await engine.downloadImageFeatures(device);
        expect(Buffer.from(got.features.buffer).equals(Buffer.from(expected.features.buffer))).toBe(true);
        if (got.deepstack && expected.deepstack)
          expect(Buffer.from(got.deepstack.buffer).equals(Buffer.from(expected.deepstack.buffer))).toBe(true);
      } finally {
        releaseDeviceImageFeatures(device);
      }
    }
  });

  it("prefills with device images to the host path's logits and tokens, mixed and split inside an image too", async () => {
    const length = reference.turn1.input_ids.length;
    const prompt = engine.prepare(reference.turn1.input_ids, fixtureGrids(reference));
    // A split inside the second image, another right after the first image's first token.
    const second = prompt.imageOf.indexOf(1);
    const splits = [[length], [second + 3, length], [prompt.imageOf.indexOf(0) + 1, second + 3, length]];
    const device = await onDevice();
    try {
      for (const ends of splits) {
        const expected = await run(host, ends, 6);
        for (const images of [device, [host[0], device[1]], [device[0], host[1]]]) {
          const got = await run(images, ends, 6);
          expect(Buffer.from(got.logits.buffer).equals(Buffer.from(expected.logits.buffer))).toBe(true);
          expect(got.tokens).toEqual(expected.tokens);
        }
      }
      if (dtype === "fp32") {
        const whole = await run(device, [length], reference.turn1.greedy.length);
        expect(whole.tokens).toEqual(reference.turn1.greedy);
      }
    } finally {
      device.forEach(releaseDeviceImageFeatures);
    }
    // Released once, also when released again.
    device.forEach(releaseDeviceImageFeatures);
    expect(liveDeviceImageFeatures()).toBe(0);
  });
});

describe("patchify on the device", () => {
  it("gives the host patchify's pixel values bit for bit, at the 2b shape's patch, merge and temporal sizes", async () => {
    const dir = await fixtureBundle("tiny-deepstack-tied");
    const engine = await Engine.load(dir, { executionProvider: "cpu", intraOpNumThreads: 1 });
    const base = await loadPreprocessorConfig(dir);
    const ops = new FeatureOps(
      providerSessionFactory("cpu", { intraOpNumThreads: 1 }),
      {
        ...engine.config,
        vision: { ...engine.config.vision, patchSize: 16, spatialMergeSize: 2, temporalPatchSize: 2 },
      },
      "float32",
    );
    try {
      const config = { ...base, patchSize: 16, mergeSize: 2, temporalPatchSize: 2 };
      const [height, width] = [64, 96];
      const rgb = Uint8Array.from({ length: height * width * 3 }, (_, i) => (i * 7919 + (i >> 5)) % 256);
      const expected = patchify(rgb, height, width, config);
      const got: ort.Tensor = await ops.patchify({
        values: pixelValueImage(rgb, pixelValueTable(config)),
        height,
        width,
      });
      expect(got.dims).toEqual(expected.dims);
      const data = got.data as Float32Array;
      expect(
        Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(Buffer.from(expected.pixelValues.buffer)),
      ).toBe(true);
    } finally {
      await ops.release();
      await engine.release();
    }
  });
});
