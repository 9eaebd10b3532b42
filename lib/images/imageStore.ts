import type { ImageInfoResponse } from "@/lib/api/types";
import { imageKey, imageMetaKey } from "@/lib/cache/keys";
import type { BlobStore } from "@/lib/cache/store/blobStore";
import { DEFAULT_TENANT, type ImageId, type TenantId } from "@/lib/ids";
import { decodeCanonicalPng, encodeCanonicalPng, type CanonicalImage } from "@/lib/images/canonicalize";

/**
 * Canonical images in the store, per tenant: what uploads write (lib/server/images.ts) and what requests read
 * (lib/inference/imageSource.ts).
 *
 * Storage: per image two entries with the same TTL, the canonical PNG under `imageKey` and a small JSON record under
 * `imageMetaKey`. An image is "known" when its PNG key exists; claiming that key with SET NX decides whether this
 * write stored it (`created`) or someone stored the same pixels before, also under concurrent uploads. Writing a known
 * image again refreshes both TTLs without writing the PNG again (the id fixes its bytes), so a repeated upload costs
 * neither memory nor append-only file.
 *
 * Images are user data: every store operation here is strict, so a write the store could not keep rejects with the
 * store's StoreUnavailableError or StoreFullError (never a success), and a read the store could not answer rejects
 * with StoreUnavailableError (never "unknown"). The PNG is written first and its record second; when the record cannot
 * be written, a write that created the PNG deletes it again (best effort), so a refused write leaves no half-stored
 * image behind.
 */

/** What is stored next to the PNG; GET /api/images/:id answers it plus the status. `bytes`: the canonical PNG's size. */
export type ImageRecord = Omit<ImageInfoResponse, "status">;

export interface ImageStoreDeps {
  readonly store: BlobStore;
}

export interface PutImageResult {
  readonly record: ImageRecord;
  /** This write claimed the PNG key (the image was not known). */
  readonly created: boolean;
}

/**
 * Stores a canonical image and its record for `ttlSeconds` (see the module comment for the layout); rejects with the
 * store's StoreUnavailableError or StoreFullError when it could not be stored.
 */
export async function putImage(image: CanonicalImage, deps: ImageStoreDeps & { readonly ttlSeconds: number }, tenant: TenantId = DEFAULT_TENANT): Promise<PutImageResult> {
  const png = await encodeCanonicalPng(image);
  const record: ImageRecord = { imageId: image.id, width: image.width, height: image.height, bytes: png.length };

  const { store, ttlSeconds: ttl } = deps;
  const known = await store.strict.renew(imageKey(tenant, image.id), ttl);
  const created = !known && (await store.strict.setIfAbsent(imageKey(tenant, image.id), png, ttl));
  try {
    await store.strict.set(imageMetaKey(tenant, image.id), Buffer.from(JSON.stringify(record)), ttl);
  } catch (error) {
    if (created) await store.del(imageKey(tenant, image.id));
    throw error;
  }
  return { record, created };
}

/** The canonical PNG of a stored image, or null when unknown or expired; rejects with StoreUnavailableError when the store cannot tell. */
export async function loadImagePng(imageId: ImageId, deps: ImageStoreDeps, tenant: TenantId = DEFAULT_TENANT): Promise<Buffer | null> {
  return deps.store.strict.get(imageKey(tenant, imageId));
}

/** The canonical pixels of a stored image (for model preprocessing), or null when unknown or expired; rejects with StoreUnavailableError when the store cannot tell. */
export async function loadCanonicalImage(
  imageId: ImageId,
  deps: ImageStoreDeps,
  tenant: TenantId = DEFAULT_TENANT,
): Promise<Pick<CanonicalImage, "data" | "width" | "height"> | null> {
  const png = await loadImagePng(imageId, deps, tenant);
  return png ? decodeCanonicalPng(png) : null;
}

/** The stored record (size, PNG bytes) of an image, or null when unknown or expired; rejects with StoreUnavailableError when the store cannot tell. */
export async function loadImageRecord(imageId: ImageId, deps: ImageStoreDeps, tenant: TenantId = DEFAULT_TENANT): Promise<ImageRecord | null> {
  const meta = await deps.store.strict.get(imageMetaKey(tenant, imageId));
  return meta ? (JSON.parse(meta.toString("utf8")) as ImageRecord) : null;
}
