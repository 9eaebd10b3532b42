import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { imageKey, imageMetaKey } from "@/lib/cache/keys";
import { RedisBlobStore, createRedisClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import { DEFAULT_TENANT, type ImageId } from "@/lib/ids";
import { decodeStoredImage, encodeCanonicalPng, imageIdOf } from "@/lib/images/canonicalize";
import { PixelBudget } from "@/lib/images/pixelBudget";
import { createLogger } from "@/lib/log";
import { loadCanonicalImage } from "@/lib/cache/imageStore";
import { handleImageGet, handleImageUpload, type ImageDeps } from "@/lib/server/images";
import { MULTIPART_ALLOWANCE } from "@/lib/server/readImageUpload";
import * as img from "@/tests/support/testImages";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";

let redis: TestRedis;
let store: RedisBlobStore;
const config = { imageTtlSeconds: 24 * 3600, maxUploadBytes: 20 * 1024 * 1024, maxImagePixels: 40_000_000 };
const deps = (): ImageDeps => ({ store, config, logger: createLogger("silent") });

beforeAll(async () => {
  redis = await startTestRedis();
  const client = createRedisClient(redis.url);
  await waitUntilReady(client, 5_000);
  store = new RedisBlobStore(client, createLogger("silent"));
});
afterAll(async () => {
  await store.close();
  await redis.teardown();
});
beforeEach(() => redis.flush());

const URL_IMAGES = "http://127.0.0.1/api/images";

function multipart(file: Buffer, field = "image", name = "upload.bin"): Request {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(file)]), name);
  return new Request(URL_IMAGES, { method: "POST", body: form });
}

async function upload(file: Buffer, overrides: Partial<ImageDeps> = {}) {
  const response = await handleImageUpload(multipart(file), { ...deps(), ...overrides });
  return { status: response.status, body: await response.json() };
}

async function expectRefusal(request: Request, status: number, code: string, overrides: Partial<ImageDeps> = {}) {
  const keysBefore = await redis.client().dbsize();
  const response = await handleImageUpload(request, { ...deps(), ...overrides });
  const body = await response.json();
  expect(response.status).toBe(status);
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message"]);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
  expect(await redis.client().dbsize()).toBe(keysBefore);
  return body.error.message as string;
}

describe("POST /api/images", () => {
  const picture = img.patternRgb(40, 30);
  const pictureId = imageIdOf(picture.data, 40, 30);

  it("stores a new image (201) under a versioned key with the configured TTL", async () => {
    const { status, body } = await upload(await img.png(picture));
    expect(status).toBe(201);
    expect(body).toMatchObject({ imageId: pictureId, width: 40, height: 30, deduplicated: false, status: "ready" });
    expect(body.stored).toBeUndefined();
    const inspect = redis.client();
    const stored = await inspect.getBuffer(imageKey(DEFAULT_TENANT, pictureId));
    expect(stored!.length).toBe(body.bytes);
    expect(imageKey(DEFAULT_TENANT, pictureId)).toBe(`vlc:v1:public:image:${pictureId}`);
    expect(await inspect.ttl(imageKey(DEFAULT_TENANT, pictureId))).toBeGreaterThan(24 * 3600 - 5);
    expect(await inspect.ttl(imageMetaKey(DEFAULT_TENANT, pictureId))).toBeGreaterThan(24 * 3600 - 5);
    const canonical = await loadCanonicalImage(pictureId, { store });
    expect(canonical!.data.equals(picture.data)).toBe(true);
  });

  it("stores a JPEG photo at its own size, not as its canonical PNG, and reads the same pixels back", async () => {
    const photo = img.noiseRgb(800, 600, 7);
    const file = await img.jpeg(photo);
    const { status, body } = await upload(file);
    expect(status).toBe(201);
    expect(body.bytes).toBe(file.length);
    expect((await redis.client().getBuffer(imageKey(DEFAULT_TENANT, body.imageId)))!.equals(file)).toBe(true);
    const canonical = await loadCanonicalImage(body.imageId, { store });
    expect(imageIdOf(canonical!.data, 800, 600)).toBe(body.imageId);
    // What storing the canonical pixels would have cost: several times the upload.
    expect((await encodeCanonicalPng(canonical!)).length).toBeGreaterThan(3 * file.length);
  });

  it("answers 503 decode_busy and stores nothing when the decode budget stays spent", async () => {
    const budget = new PixelBudget(40 * 30, 50);
    const release = await budget.acquire(40 * 30);
    const keysBefore = await redis.client().dbsize();
    const response = await handleImageUpload(multipart(await img.png(img.patternRgb(40, 30))), {
      ...deps(),
      decodeBudget: budget,
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect((await response.json()).error.code).toBe("decode_busy");
    expect(await redis.client().dbsize()).toBe(keysBefore);
    release();
    const retried = await handleImageUpload(multipart(await img.png(img.patternRgb(40, 30))), {
      ...deps(),
      decodeBudget: budget,
    });
    expect(retried.status).toBe(201);
    expect(budget.pixelsInUse).toBe(0);
  });

  it("answers 200 deduplicated for the same pixels in another encoding", async () => {
    expect((await upload(await img.png(picture))).status).toBe(201);
    const again = await upload(await img.losslessWebp(picture));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ imageId: pictureId, deduplicated: true });
  });

  it("dedupes an EXIF-rotated JPEG against a PNG of its rotated pixels", async () => {
    const jpeg = await img.jpegWithOrientation(img.patternRgb(48, 32), 6);
    const first = await upload(jpeg);
    expect(first.status).toBe(201);
    expect([first.body.width, first.body.height]).toEqual([32, 48]);
    const second = await upload(await img.rotatedPngOfJpeg(jpeg, 90));
    expect(second.status).toBe(200);
    expect(second.body.imageId).toBe(first.body.imageId);
  });

  it("lets exactly one of two concurrent identical uploads create the image", async () => {
    const file = await img.png(img.patternRgb(64, 64));
    const statuses = (await Promise.all([upload(file), upload(file)])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 201]);
  });

  it("refreshes both TTLs on a repeated upload without writing the PNG again", async () => {
    const first = await upload(await img.png(picture), { config: { ...config, imageTtlSeconds: 60 } });
    const inspect = redis.client();
    const key = imageKey(DEFAULT_TENANT, first.body.imageId);
    expect(await inspect.ttl(key)).toBeLessThanOrEqual(60);
    const writesBefore = Number(/cmdstat_set:calls=(\d+)/.exec(await inspect.info("commandstats"))![1]);
    const again = await upload(await img.losslessWebp(picture), { config: { ...config, imageTtlSeconds: 600 } });
    expect(again.body).toMatchObject({ imageId: first.body.imageId, deduplicated: true });
    expect(await inspect.ttl(key)).toBeGreaterThan(590);
    expect(await inspect.ttl(imageMetaKey(DEFAULT_TENANT, first.body.imageId))).toBeGreaterThan(590);
    // One SET: the small record; the PNG was only given a new TTL (EXPIRE).
    expect(Number(/cmdstat_set:calls=(\d+)/.exec(await inspect.info("commandstats"))![1])).toBe(writesBefore + 1);
  });

  it("uses IMAGE_TTL_SECONDS", async () => {
    const { body } = await upload(await img.png(picture), { config: { ...config, imageTtlSeconds: 90 } });
    const ttl = await redis.client().ttl(imageKey(DEFAULT_TENANT, body.imageId));
    expect(ttl).toBeGreaterThan(80);
    expect(ttl).toBeLessThanOrEqual(90);
  });

  it("accepts grayscale, 16-bit, RGBA and animated inputs", async () => {
    const gray = await upload(await img.grayscalePng(Buffer.alloc(12, 99), 4, 3));
    expect(gray.body.imageId).toBe(imageIdOf(Buffer.alloc(36, 99), 4, 3));
    expect((await upload(await img.png16(picture))).body).toMatchObject({ imageId: pictureId, deduplicated: false });
    expect((await upload(await img.rgbaPng(picture, () => 255))).body).toMatchObject({
      imageId: pictureId,
      deduplicated: true,
    });
    const frame = img.quadrantsRgb(8, 8, [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [0, 0, 0],
    ]);
    const gif = await upload(await img.animatedGif([frame, img.patternRgb(8, 8)]));
    expect(gif.body.imageId).toBe(imageIdOf(frame.data, 8, 8));
  });
});

describe("POST /api/images refusals change nothing", () => {
  it("400 for a body that is not multipart", async () => {
    const request = new Request(URL_IMAGES, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(await expectRefusal(request, 400, "not_multipart")).toContain("multipart/form-data");
  });

  it("400 for an empty body", async () => {
    const request = new Request(URL_IMAGES, {
      method: "POST",
      body: "",
      headers: { "content-type": "multipart/form-data; boundary=x", "content-length": "0" },
    });
    await expectRefusal(request, 400, "empty_body");
  });

  it("400 when field `image` is missing or empty", async () => {
    await expectRefusal(multipart(await img.png(img.patternRgb(4, 4)), "file"), 400, "missing_image");
    await expectRefusal(multipart(Buffer.alloc(0)), 400, "empty_image");
  });

  it("422 for text, truncated and corrupt files, with the decoder's reason", async () => {
    await expectRefusal(multipart(img.textBytes()), 422, "invalid_image");
    const jpeg = await img.jpegWithOrientation(img.patternRgb(64, 64), 1);
    expect(await expectRefusal(multipart(img.truncated(jpeg)), 422, "invalid_image")).toMatch(/premature end of JPEG/i);
    await expectRefusal(multipart(img.corruptPng(await img.png(img.patternRgb(8, 8)))), 422, "invalid_image");
  });

  it("415 for SVG and PDF", async () => {
    expect(await expectRefusal(multipart(img.svgBytes()), 415, "unsupported_media_type")).toMatch(
      /^SVG files are not supported/,
    );
    expect(await expectRefusal(multipart(img.pdfBytes()), 415, "unsupported_media_type")).toMatch(/^PDF files/);
  });

  it("422 for a decompression bomb", async () => {
    expect(await expectRefusal(multipart(img.pngBomb(8000, 6000)), 422, "too_many_pixels")).toContain(
      "48000000 pixels",
    );
  });

  it("413 from Content-Length alone, without reading the body", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const request = new Request(URL_IMAGES, {
      method: "POST",
      body,
      duplex: "half",
      headers: { "content-type": "multipart/form-data; boundary=x", "content-length": String(21 * 1024 * 1024) },
    } as RequestInit);
    expect(await expectRefusal(request, 413, "payload_too_large")).toContain(String(20 * 1024 * 1024));
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it("413 for a streamed body past the limit, reading only about the limit", async () => {
    const limit = 100_000;
    let sent = 0;
    const boundary = "vlcacheboundary";
    const head = new TextEncoder().encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`,
    );
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(head);
        sent += head.length;
      },
      pull(controller) {
        if (sent > 50 * limit) return controller.close();
        controller.enqueue(new Uint8Array(16 * 1024));
        sent += 16 * 1024;
      },
    });
    const request = new Request(URL_IMAGES, {
      method: "POST",
      body,
      duplex: "half",
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    } as RequestInit);
    await expectRefusal(request, 413, "payload_too_large", { config: { ...config, maxUploadBytes: limit } });
    expect(sent).toBeLessThan(limit + MULTIPART_ALLOWANCE + 4 * 16 * 1024);
  });

  it("413 for a file over the limit inside a small-enough body", async () => {
    const file = await img.png(img.patternRgb(64, 64));
    await expectRefusal(multipart(file), 413, "payload_too_large", {
      config: { ...config, maxUploadBytes: file.length - 1 },
    });
  });

  it("422 past a configured pixel limit", async () => {
    await expectRefusal(multipart(await img.png(img.patternRgb(20, 20))), 422, "too_many_pixels", {
      config: { ...config, maxImagePixels: 399 },
    });
  });
});

describe("GET /api/images/:id", () => {
  it("answers metadata, the canonical PNG with ?raw=1, 404 for unknown and 400 for malformed ids", async () => {
    const picture = img.patternRgb(21, 13);
    const { body: uploaded } = await upload(await img.losslessWebp(picture));
    const meta = await handleImageGet(uploaded.imageId, false, deps());
    expect(meta.status).toBe(200);
    expect(await meta.json()).toEqual({
      imageId: uploaded.imageId,
      width: 21,
      height: 13,
      bytes: uploaded.bytes,
      status: "ready",
    });

    const raw = await handleImageGet(uploaded.imageId, true, deps());
    expect(raw.status).toBe(200);
    expect(raw.headers.get("content-type")).toBe("image/png");
    const png = Buffer.from(await raw.arrayBuffer());
    expect(await decodeStoredImage(png, uploaded.imageId, { maxPixels: 1000 })).toMatchObject({
      id: uploaded.imageId,
      width: 21,
      height: 13,
    });

    const unknown = await handleImageGet("0".repeat(64), false, deps());
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe("image_not_found");
    const unknownRaw = await handleImageGet("f".repeat(64), true, deps());
    expect(unknownRaw.status).toBe(404);
    const malformed = await handleImageGet("not-an-id", false, deps());
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error.code).toBe("invalid_image_id");
  });
});

describe("with the store full", () => {
  it("refuses a new upload with 507 store_full, leaves nothing of it behind, and keeps the images it had", async () => {
    const kept = await upload(await img.png(img.patternRgb(20, 20)));
    expect(kept.status).toBe(201);
    const inspect = redis.client();
    const used = Number(/used_memory:(\d+)/.exec(await inspect.info("memory"))![1]);
    await inspect.config("SET", "maxmemory-policy", "noeviction");
    await inspect.config("SET", "maxmemory", String(used + 64 * 1024));
    try {
      const large = img.patternRgb(400, 400);
      const refused = await upload(await img.png(large));
      expect(refused.status).toBe(507);
      expect(refused.body.error.code).toBe("store_full");
      const largeId = imageIdOf(large.data, 400, 400);
      expect(await inspect.exists(imageKey(DEFAULT_TENANT, largeId), imageMetaKey(DEFAULT_TENANT, largeId))).toBe(0);
      expect((await handleImageGet(kept.body.imageId, false, deps())).status).toBe(200);
      expect((await handleImageGet(kept.body.imageId, true, deps())).status).toBe(200);
    } finally {
      await inspect.config("SET", "maxmemory", "0");
    }
  });
});

describe("with Redis down", () => {
  it("refuses uploads with 503 store_unavailable (nothing claimed stored), GET says 503, and all works again after Redis returns", async () => {
    const file = await img.png(img.patternRgb(9, 9));
    const imageId = imageIdOf(img.patternRgb(9, 9).data, 9, 9);
    await redis.stop();
    try {
      await expect.poll(() => store.isHealthy(), { timeout: 5_000 }).toBe(false);
      const { status, body } = await upload(file);
      expect(status).toBe(503);
      expect(body.error.code).toBe("store_unavailable");
      const get = await handleImageGet(imageId, false, deps());
      expect(get.status).toBe(503);
      expect(get.headers.get("retry-after")).toBe("2");
      expect((await get.json()).error.code).toBe("store_unavailable");
    } finally {
      await redis.restart();
    }
    await expect.poll(() => store.isHealthy(), { timeout: 10_000, interval: 100 }).toBe(true);
    const after = await upload(file);
    expect(after.status).toBe(201);
    expect(after.body).toMatchObject({ imageId, deduplicated: false });
  });

  it("with Redis stalled (SIGSTOP), a known image answers 503, not 404, and an upload 503, not 200 deduplicated", async () => {
    const file = await img.png(img.patternRgb(7, 5));
    const first = await upload(file);
    expect(first.status).toBe(201);
    const imageId = first.body.imageId as ImageId;
    redis.pause();
    try {
      const get = await handleImageGet(imageId, false, deps());
      expect(get.status).toBe(503);
      expect((await get.json()).error.code).toBe("store_unavailable");
      const raw = await handleImageGet(imageId, true, deps());
      expect(raw.status).toBe(503);
      const again = await upload(file);
      expect(again.status).toBe(503);
      expect(again.body.error.code).toBe("store_unavailable");
    } finally {
      redis.resume();
    }
    await expect.poll(() => store.isHealthy(), { timeout: 10_000, interval: 50 }).toBe(true);
    expect((await handleImageGet(imageId, false, deps())).status).toBe(200);
    const after = await upload(file);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ imageId, deduplicated: true });
  });
});
