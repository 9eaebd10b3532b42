import type { ImageInfoResponse, ImageStatus, ImageUploadResponse } from "@/lib/api/types";
import type { AppConfig } from "@/lib/config";
import { imageKey, imageMetaKey } from "@/lib/cache/keys";
import type { PrecomputeState } from "@/lib/cache/l1Features";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { DEFAULT_TENANT, parseImageId, type ImageId, type TenantId } from "@/lib/ids";
import { canonicalize, decodeStoredImage, encodeCanonicalPng, type CanonicalImage } from "@/lib/images/canonicalize";
import type { IngestError } from "@/lib/images/ingestErrors";
import { isDecodeBusy, type DecodeBusyError, type PixelBudget } from "@/lib/images/pixelBudget";
import type { Logger } from "@/lib/log";
import { counter } from "@/lib/metrics/registry";
import { errorResponse, httpError, ingestErrorResponse } from "@/lib/server/httpErrors";
import { readImageUpload } from "@/lib/server/readImageUpload";

/**
 * Image uploads and look-ups behind /api/images.
 *
 * Storage: per image two entries with the same TTL, the uploaded file as sent under `imageKey` and a small JSON record
 * under `imageMetaKey`. The file, not the canonical pixels: a photo's lossless canonical PNG is five to ten times its
 * JPEG, and decoding the file again yields the same canonical pixels (checked against the id on every read, see
 * decodeStoredImage), so the id stays the SHA-256 of the canonical pixels and an upload costs its own size in the
 * store. `?raw=1` encodes the canonical PNG on demand. An image is "known" when its file key exists; claiming that key
 * with SET NX decides between 201 (this upload stored it) and 200 (`deduplicated`, someone stored the same pixels
 * before), also under concurrent uploads. Uploading a known image again refreshes both TTLs and keeps the first file.
 * Bad input is refused before the first write.
 *
 * Every decode (upload, read-back, raw) holds its share of the process's decode budget (`decodeBudget`); one that waited
 * too long for it answers 503 `decode_busy`.
 */

/** What is stored next to the file; GET /api/images/:id answers it plus the status. `bytes`: the stored file's size. */
export type ImageRecord = Omit<ImageInfoResponse, "status">;

export interface UploadAnswer extends ImageUploadResponse {
  /** Present (false) only when the store was unreachable: the id is valid but the image was not kept. */
  stored?: false;
}

export interface ImageDeps {
  store: BlobStore;
  config: Pick<AppConfig, "imageTtlSeconds" | "maxUploadBytes" | "maxImagePixels">;
  logger: Logger;
  /** The process's decode budget; decodes are not metered without one (tests). */
  decodeBudget?: PixelBudget;
  /** The upload precompute, when a model is served (see ImagePrecompute). */
  precompute?: ImagePrecompute | null;
}

const uploadsTotal = counter<"result">({
  name: "vlcache_image_uploads_total",
  help: "Image uploads by result: new (stored), duplicate (already known), refused (bad input).",
  labelNames: ["result"],
});

/**
 * The L1 side of uploads (the served model's caches, lib/inference/modelCaches.ts): an upload starts encoding its image
 * at once, in the background, and GET reports `encoding` until the features are cached, then `ready`. Without one
 * (no model served yet) every stored image is reported `ready`: its features are computed by the first request.
 */
export interface ImagePrecompute {
  precompute(image: CanonicalImage, tenant: TenantId): ImageStatus;
  imageState(imageId: ImageId, tenant: TenantId): Promise<PrecomputeState>;
}

export type StoreImageResult = { ok: true; answer: UploadAnswer } | { ok: false; error: IngestError };

/** Canonicalises an uploaded file and stores it (see the module comment for the storage layout). */
export async function storeImage(file: Buffer, deps: ImageDeps, tenant: TenantId = DEFAULT_TENANT): Promise<StoreImageResult> {
  const canonical = await canonicalize(file, { maxPixels: deps.config.maxImagePixels, budget: deps.decodeBudget });
  if (!canonical.ok) return canonical;
  const image = canonical.image;
  const { store, config } = deps;
  const ttl = config.imageTtlSeconds;
  const created = await store.setIfAbsent(imageKey(tenant, image.id), file, ttl);
  // Known pixels keep the file first stored for them (so `bytes` of an id does not change); only the TTL starts again.
  const kept = created ? file : ((await store.get(imageKey(tenant, image.id))) ?? file);
  if (!created) await store.set(imageKey(tenant, image.id), kept, ttl);
  const record: ImageRecord = { imageId: image.id, width: image.width, height: image.height, bytes: kept.length };
  await store.set(imageMetaKey(tenant, image.id), Buffer.from(JSON.stringify(record)), ttl);

  // The store fails soft; an outage during the writes shows here, and then nothing may be claimed as known.
  const stored = store.isHealthy();
  const answer: UploadAnswer = {
    ...record,
    deduplicated: stored && !created,
    status: stored && deps.precompute ? deps.precompute.precompute(image, tenant) : "ready",
    ...(stored ? {} : { stored: false as const }),
  };
  return { ok: true, answer };
}

/**
 * The canonical pixels of a stored image (for model preprocessing and `?raw=1`), or null when unknown or expired.
 * A stored file that no longer decodes to its id is logged by the caller's 500: it must never stand in for the image.
 */
export async function loadCanonicalImage(
  imageId: ImageId,
  deps: Pick<ImageDeps, "store" | "decodeBudget">,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<Pick<CanonicalImage, "data" | "width" | "height"> | null> {
  const stored = await deps.store.get(imageKey(tenant, imageId));
  if (!stored) return null;
  // The file was size-checked on upload; the limit here only has to let it through again.
  const image = await decodeStoredImage(stored, imageId, { maxPixels: Number.MAX_SAFE_INTEGER, budget: deps.decodeBudget });
  if (!image) throw new Error(`stored image ${imageId} no longer decodes to its id`);
  return image;
}

/** The stored record (size, PNG bytes) of an image, or null when unknown or expired. */
export async function loadImageRecord(
  imageId: ImageId,
  deps: Pick<ImageDeps, "store">,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<ImageRecord | null> {
  const meta = await deps.store.get(imageMetaKey(tenant, imageId));
  return meta ? (JSON.parse(meta.toString("utf8")) as ImageRecord) : null;
}

/** POST /api/images */
export async function handleImageUpload(request: Request, deps: ImageDeps, tenant: TenantId = DEFAULT_TENANT): Promise<Response> {
  const log = deps.logger.child({ module: "images" });
  const refuse = (error: IngestError) => {
    uploadsTotal.inc({ result: "refused" });
    log.info({ code: error.code }, `upload refused: ${error.message}`);
    return ingestErrorResponse(error);
  };
  try {
    const upload = await readImageUpload(request, deps.config.maxUploadBytes);
    if (!upload.ok) return refuse(upload.error);
    const result = await storeImage(upload.file, deps, tenant);
    if (!result.ok) return refuse(result.error);
    const { answer } = result;
    uploadsTotal.inc({ result: answer.deduplicated ? "duplicate" : "new" });
    log.info({ ...answer, fileName: upload.fileName }, answer.deduplicated ? "image already known" : "image stored");
    return Response.json(answer, { status: answer.deduplicated ? 200 : 201 });
  } catch (error) {
    if (isDecodeBusy(error)) return decodeBusy(error);
    log.error({ err: error }, "upload failed");
    return httpError.internal();
  }
}

function decodeBusy(error: DecodeBusyError): Response {
  return errorResponse(503, "decode_busy", error.message, { "retry-after": String(error.retryAfterSeconds) });
}

/** GET /api/images/:id (metadata and status), or with ?raw=1 the canonical PNG. */
export async function handleImageGet(
  idText: string,
  raw: boolean,
  deps: ImageDeps,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<Response> {
  const imageId = parseImageId(idText);
  if (!imageId) return httpError.invalidImageId(idText);
  const missing = () => (deps.store.isHealthy() ? httpError.imageNotFound(imageId) : httpError.storeUnavailable());

  if (raw) {
    let image: Awaited<ReturnType<typeof loadCanonicalImage>>;
    try {
      image = await loadCanonicalImage(imageId, deps, tenant);
    } catch (error) {
      if (isDecodeBusy(error)) return decodeBusy(error);
      throw error;
    }
    if (!image) return missing();
    const png = await encodeCanonicalPng(image);
    return new Response(new Uint8Array(png), {
      headers: {
        "content-type": "image/png",
        "content-length": String(png.length),
        // Content-addressed: the bytes behind an id never change, so clients may keep them.
        "cache-control": "public, max-age=31536000, immutable",
      },
    });
  }
  const record = await loadImageRecord(imageId, deps, tenant);
  if (!record) return missing();
  const state = deps.precompute ? await deps.precompute.imageState(imageId, tenant) : null;
  const answer: ImageInfoResponse = {
    ...record,
    status: state?.status ?? "ready",
    ...(state?.status === "ready" && state.encodingMs !== null ? { encodingMs: Math.round(state.encodingMs) } : {}),
  };
  return Response.json(answer, { headers: { "cache-control": "no-store" } });
}
