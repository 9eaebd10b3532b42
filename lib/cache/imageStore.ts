/**
 * Uploaded images in the store, per tenant: what uploads write (lib/server/images.ts) and what requests read
 * (lib/inference/imageSource.ts).
 *
 * Storage: per image two entries with the same TTL, the uploaded file as sent under `imageKey` and a small JSON record
 * under `imageMetaKey`. The file, not the canonical pixels: a photo's lossless canonical PNG is five to ten times its
 * JPEG, and decoding the file again yields the same canonical pixels (checked against the id on every read, see
 * decodeStoredImage), so the id stays the SHA-256 of the canonical pixels and an upload costs its own size in the
 * store. An image is "known" when its file key exists; claiming that key with SET NX decides whether this write
 * stored it (`created`) or someone stored the same pixels before, also under concurrent uploads. Writing a known
 * image again refreshes both TTLs and keeps the first file (so the `bytes` of an id never change), without writing it
 * again: a repeated upload costs neither memory nor append-only file.
 *
 * Images are user data: every store operation here is strict, so a write the store could not keep rejects with the
 * store's StoreUnavailableError or StoreFullError (never a success), and a read the store could not answer rejects
 * with StoreUnavailableError (never "unknown"). The file is written first and its record second; when the record
 * cannot be written, a write that created the file deletes it again (best effort), so a refused write leaves no
 * half-stored image behind.
 */

import type { ImageInfoResponse } from "@/lib/api/types";
import { imageKey, imageMetaKey } from "@/lib/cache/keys";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { DEFAULT_TENANT, type ImageId, type TenantId } from "@/lib/ids";
import { decodeStoredImage, type CanonicalImage } from "@/lib/images/canonicalize";
import type { PixelBudget } from "@/lib/images/pixelBudget";

/** What is stored next to the file; GET /api/images/:id answers it plus the status. `bytes`: the stored file's size. */
export type ImageRecord = Omit<ImageInfoResponse, "status">;

export interface ImageStoreDeps {
  readonly store: BlobStore;
  /** The process's decode budget, held while a stored file is decoded; decodes are not metered without one (tests). */
  readonly decodeBudget?: PixelBudget;
}

export interface PutImageResult {
  readonly record: ImageRecord;
  /** This write claimed the file key (the image was not known). */
  readonly created: boolean;
}

/**
 * Stores an uploaded `file` (canonicalised as `image`) and its record for `ttlSeconds` (see the module comment for the
 * layout); rejects with the store's StoreUnavailableError or StoreFullError when it could not be stored.
 */
export async function putImage(
  image: CanonicalImage,
  file: Buffer,
  deps: ImageStoreDeps & { readonly ttlSeconds: number },
  tenant: TenantId = DEFAULT_TENANT,
): Promise<PutImageResult> {
  const { store, ttlSeconds: ttl } = deps;
  const key = imageKey(tenant, image.id);
  const known = await store.strict.renew(key, ttl);
  const created = !known && (await store.strict.setIfAbsent(key, file, ttl));
  const bytes = created ? file.length : await storedFileBytes(image.id, deps, tenant, file);
  const record: ImageRecord = { imageId: image.id, width: image.width, height: image.height, bytes };
  try {
    await store.strict.set(imageMetaKey(tenant, image.id), Buffer.from(JSON.stringify(record)), ttl);
  } catch (error) {
    if (created) await store.del(key);
    throw error;
  }
  return { record, created };
}

/**
 * The size of the file kept for a known image: from its record, or (a concurrent first upload has not written it yet)
 * the file itself.
 */
async function storedFileBytes(
  imageId: ImageId,
  deps: ImageStoreDeps,
  tenant: TenantId,
  fallback: Buffer,
): Promise<number> {
  const record = await loadImageRecord(imageId, deps, tenant);
  if (record) return record.bytes;
  return ((await deps.store.strict.get(imageKey(tenant, imageId))) ?? fallback).length;
}

/**
 * The canonical pixels of a stored image (for model preprocessing and `?raw=1`), or null when unknown or expired;
 * rejects with StoreUnavailableError when the store cannot tell, and with DecodeBusyError when the decode budget stays
 * spent. A stored file that no longer decodes to its id is an error (the caller's 500): it must never stand in for the
 * image.
 */
export async function loadCanonicalImage(
  imageId: ImageId,
  deps: ImageStoreDeps,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<Pick<CanonicalImage, "data" | "width" | "height"> | null> {
  const stored = await deps.store.strict.get(imageKey(tenant, imageId));
  if (!stored) return null;
  // The file was size-checked on upload; the limit here only has to let it through again.
  const image = await decodeStoredImage(stored, imageId, {
    maxPixels: Number.MAX_SAFE_INTEGER,
    budget: deps.decodeBudget,
  });
  if (!image) throw new Error(`stored image ${imageId} no longer decodes to its id`);
  return image;
}

/**
 * The stored record (size, file bytes) of an image, or null when unknown or expired; rejects with StoreUnavailableError
 * when the store cannot tell.
 */
export async function loadImageRecord(
  imageId: ImageId,
  deps: ImageStoreDeps,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<ImageRecord | null> {
  const meta = await deps.store.strict.get(imageMetaKey(tenant, imageId));
  return meta ? (JSON.parse(meta.toString("utf8")) as ImageRecord) : null;
}
