import type { ImageInfoResponse, ImageStatus, ImageUploadResponse } from "@/lib/api/types";
import type { AppConfig } from "@/lib/config";
import { imageKey, imageMetaKey } from "@/lib/cache/keys";
import type { PrecomputeState } from "@/lib/cache/l1Features";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { DEFAULT_TENANT, parseImageId, type ImageId, type TenantId } from "@/lib/ids";
import { canonicalize, decodeCanonicalPng, encodeCanonicalPng, type CanonicalImage } from "@/lib/images/canonicalize";
import type { IngestError } from "@/lib/images/ingestErrors";
import type { Logger } from "@/lib/log";
import { counter } from "@/lib/metrics/registry";
import { httpError, ingestErrorResponse } from "@/lib/server/httpErrors";
import { readImageUpload } from "@/lib/server/readImageUpload";
import { errorAnswer } from "@/lib/server/requestError";

/**
 * Image uploads and look-ups behind /api/images.
 *
 * Storage: per image two entries with the same TTL, the canonical PNG under `imageKey` and a small JSON record under
 * `imageMetaKey`. An image is "known" when its PNG key exists; claiming that key with SET NX decides between 201 (this
 * upload stored it) and 200 (`deduplicated`, someone stored the same pixels before), also under concurrent uploads.
 * Uploading a known image again refreshes both TTLs without writing the PNG again (the id fixes its bytes), so a
 * repeated upload costs neither memory nor append-only file. Bad input is refused before the first write.
 *
 * Images are user data: every store operation here is strict, so an upload the store could not keep answers 503
 * store_unavailable (or 507 store_full), never a success, and a look-up the store could not answer is a 503, never
 * image_not_found. The PNG is written first and its record second; when the record cannot be written, an upload that
 * created the PNG deletes it again (best effort), so a refused upload leaves no half-stored image behind.
 */

/** What is stored next to the PNG; GET /api/images/:id answers it plus the status. `bytes`: the canonical PNG's size. */
export type ImageRecord = Omit<ImageInfoResponse, "status">;

export interface ImageDeps {
  store: BlobStore;
  config: Pick<AppConfig, "imageTtlSeconds" | "maxUploadBytes" | "maxImagePixels">;
  logger: Logger;
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

export type StoreImageResult = { ok: true; answer: ImageUploadResponse } | { ok: false; error: IngestError };

/**
 * Canonicalises an uploaded file and stores it (see the module comment for the storage layout); rejects with the
 * store's StoreUnavailableError or StoreFullError when it could not be stored.
 */
export async function storeImage(file: Buffer, deps: ImageDeps, tenant: TenantId = DEFAULT_TENANT): Promise<StoreImageResult> {
  const canonical = await canonicalize(file, { maxPixels: deps.config.maxImagePixels });
  if (!canonical.ok) return canonical;
  const image = canonical.image;
  const png = await encodeCanonicalPng(image);
  const record: ImageRecord = { imageId: image.id, width: image.width, height: image.height, bytes: png.length };

  const { store, config } = deps;
  const ttl = config.imageTtlSeconds;
  const known = await store.strict.renew(imageKey(tenant, image.id), ttl);
  const created = !known && (await store.strict.setIfAbsent(imageKey(tenant, image.id), png, ttl));
  try {
    await store.strict.set(imageMetaKey(tenant, image.id), Buffer.from(JSON.stringify(record)), ttl);
  } catch (error) {
    if (created) await store.del(imageKey(tenant, image.id));
    throw error;
  }
  const answer: ImageUploadResponse = {
    ...record,
    deduplicated: !created,
    status: deps.precompute ? deps.precompute.precompute(image, tenant) : "ready",
  };
  return { ok: true, answer };
}

/** The canonical pixels of a stored image (for model preprocessing), or null when unknown or expired; rejects with StoreUnavailableError when the store cannot tell. */
export async function loadCanonicalImage(
  imageId: ImageId,
  deps: Pick<ImageDeps, "store">,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<Pick<CanonicalImage, "data" | "width" | "height"> | null> {
  const png = await deps.store.strict.get(imageKey(tenant, imageId));
  return png ? decodeCanonicalPng(png) : null;
}

/** The stored record (size, PNG bytes) of an image, or null when unknown or expired; rejects with StoreUnavailableError when the store cannot tell. */
export async function loadImageRecord(
  imageId: ImageId,
  deps: Pick<ImageDeps, "store">,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<ImageRecord | null> {
  const meta = await deps.store.strict.get(imageMetaKey(tenant, imageId));
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
    return errorAnswer(error, log);
  }
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
  try {
    return await imageAnswer(imageId, raw, deps, tenant);
  } catch (error) {
    return errorAnswer(error, deps.logger.child({ module: "images" }));
  }
}

async function imageAnswer(imageId: ImageId, raw: boolean, deps: ImageDeps, tenant: TenantId): Promise<Response> {
  if (raw) {
    const png = await deps.store.strict.get(imageKey(tenant, imageId));
    if (!png) return httpError.imageNotFound(imageId);
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
  if (!record) return httpError.imageNotFound(imageId);
  const state = deps.precompute ? await deps.precompute.imageState(imageId, tenant) : null;
  const answer: ImageInfoResponse = {
    ...record,
    status: state?.status ?? "ready",
    ...(state?.status === "ready" && state.encodingMs !== null ? { encodingMs: Math.round(state.encodingMs) } : {}),
  };
  return Response.json(answer, { headers: { "cache-control": "no-store" } });
}
