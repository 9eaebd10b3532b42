/**
 * Image uploads and look-ups behind /api/images, over the image store (lib/cache/imageStore.ts: the uploaded file
 * kept as sent, layout, TTLs, strict store operations). Whether the upload stored a new image decides between 201 and
 * 200 (`deduplicated`, someone stored the same pixels before), also under concurrent uploads. Bad input is refused
 * before the first write; an upload the store could not keep answers 503 store_unavailable (or 507 store_full), never
 * a success, and a look-up the store could not answer is a 503, never image_not_found. `?raw=1` encodes the canonical
 * PNG on demand.
 *
 * Every decode (upload, read-back, raw) holds its share of the process's decode budget (`decodeBudget`); one that
 * waited too long for it answers 503 `decode_busy`.
 */

import type { ImageInfoResponse, ImageStatus, ImageUploadResponse } from "@/lib/api/types";
import type { AppConfig } from "@/lib/config";
import type { PrecomputeState } from "@/lib/cache/precomputeStatus";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { DEFAULT_TENANT, parseImageId, type ImageId, type TenantId } from "@/lib/ids";
import { canonicalize, encodeCanonicalPng } from "@/lib/images/canonicalize";
import { loadCanonicalImage, loadImageRecord, putImage } from "@/lib/cache/imageStore";
import type { IngestError } from "@/lib/images/ingestErrors";
import type { PixelBudget } from "@/lib/images/pixelBudget";
import type { UploadedImage } from "@/lib/inference/modelCaches";
import type { Logger } from "@/lib/log";
import { counter } from "@/lib/metrics/registry";
import { httpError } from "@/lib/server/httpErrors";
import { readImageUpload } from "@/lib/server/readImageUpload";
import { errorAnswer, ingestRefusal, requestErrorResponse } from "@/lib/server/requestError";

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
 * The L1 side of uploads (the served model's caches, lib/inference/modelCaches.ts, behind uploadPrecompute.ts while
 * the model loads): an upload starts encoding its image in the background, and GET reports `encoding` until the
 * features are cached, then `ready`. Without one every stored image is reported `ready`: its features are computed by
 * the first request.
 */
export interface ImagePrecompute {
  precompute(image: UploadedImage, tenant: TenantId): ImageStatus;
  imageState(imageId: ImageId, tenant: TenantId): Promise<PrecomputeState>;
}

export type StoreImageResult = { ok: true; answer: ImageUploadResponse } | { ok: false; error: IngestError };

/**
 * Canonicalises an uploaded file, stores it and starts its precompute; rejects with the store's StoreUnavailableError
 * or StoreFullError when it could not be stored.
 */
export async function storeImage(
  file: Buffer,
  deps: ImageDeps,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<StoreImageResult> {
  const canonical = await canonicalize(file, { maxPixels: deps.config.maxImagePixels, budget: deps.decodeBudget });
  if (!canonical.ok) return canonical;
  const image = canonical.image;
  const { record, created } = await putImage(
    image,
    file,
    { store: deps.store, ttlSeconds: deps.config.imageTtlSeconds },
    tenant,
  );
  const answer: ImageUploadResponse = {
    ...record,
    deduplicated: !created,
    status: deps.precompute ? deps.precompute.precompute(image, tenant) : "ready",
  };
  return { ok: true, answer };
}

/** POST /api/images */
export async function handleImageUpload(
  request: Request,
  deps: ImageDeps,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<Response> {
  const log = deps.logger.child({ module: "images" });
  const refuse = (error: IngestError) => {
    uploadsTotal.inc({ result: "refused" });
    log.info({ code: error.code }, `upload refused: ${error.message}`);
    return requestErrorResponse(ingestRefusal(error));
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
    const image = await loadCanonicalImage(imageId, deps, tenant);
    if (!image) return httpError.imageNotFound(imageId);
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
  if (!record) return httpError.imageNotFound(imageId);
  const state = deps.precompute ? await deps.precompute.imageState(imageId, tenant) : null;
  const answer: ImageInfoResponse = {
    ...record,
    status: state?.status ?? "ready",
    ...(state?.status === "ready" && state.encodingMs !== null ? { encodingMs: Math.round(state.encodingMs) } : {}),
  };
  return Response.json(answer, { headers: { "cache-control": "no-store" } });
}
