/**
 * Where images named by id come from: the canonical images stored by uploads (lib/cache/imageStore.ts).
 *
 * Size and pixels are separate look-ups because the prompt needs only the size (it fixes the image's grid and token
 * count), while pixels are needed only when the features must be computed; with the features cached, the PNG is
 * never decoded. Both answer null for an unknown or expired image and throw `store_unavailable` when the store
 * cannot tell (down, or no answer within its deadline).
 */

import { isStoreUnavailable, type BlobStore } from "@/lib/cache/store/blobStore";
import type { ImageId, TenantId } from "@/lib/ids";
import type { PixelBudget } from "@/lib/images/pixelBudget";
import type { RgbImage } from "@/lib/images/preprocess/resizeImage";
import { loadCanonicalImage, loadImageRecord } from "@/lib/cache/imageStore";
import { InferenceError } from "./errors";

export interface ImageSource {
  size(imageId: ImageId, tenant: TenantId): Promise<{ width: number; height: number } | null>;
  pixels(imageId: ImageId, tenant: TenantId): Promise<RgbImage | null>;
}

/** `decodeBudget`: the process's decode budget, held while a stored image is decoded (none: not metered). */
export function storedImages(store: BlobStore, decodeBudget?: PixelBudget): ImageSource {
  const unlessOutage = async <T>(load: Promise<T>): Promise<T> => {
    try {
      return await load;
    } catch (error) {
      if (!isStoreUnavailable(error)) throw error;
      throw new InferenceError("store_unavailable", "the image store is unreachable right now; retry shortly");
    }
  };
  return {
    async size(imageId, tenant) {
      const record = await unlessOutage(loadImageRecord(imageId, { store }, tenant));
      return record && { width: record.width, height: record.height };
    },
    async pixels(imageId, tenant) {
      return unlessOutage(loadCanonicalImage(imageId, { store, decodeBudget }, tenant));
    },
  };
}
