import type { BlobStore } from "@/lib/cache/store/blobStore";
import type { ImageId, TenantId } from "@/lib/ids";
import type { PixelBudget } from "@/lib/images/pixelBudget";
import type { RgbImage } from "@/lib/images/preprocess/resizeImage";
import { loadCanonicalImage, loadImageRecord } from "@/lib/server/images";
import { InferenceError } from "./errors";

/**
 * Where images named by id come from: the canonical images stored by uploads (lib/server/images.ts).
 *
 * Size and pixels are separate look-ups because the prompt needs only the size (it fixes the image's grid and token
 * count), while pixels are needed only when the features must be computed; with the features cached, the PNG is
 * never decoded. Both answer null for an unknown or expired image and throw `store_unavailable` while the store is
 * down (the store fails soft, so a null during an outage does not mean "unknown").
 */
export interface ImageSource {
  size(imageId: ImageId, tenant: TenantId): Promise<{ width: number; height: number } | null>;
  pixels(imageId: ImageId, tenant: TenantId): Promise<RgbImage | null>;
}

/** `decodeBudget`: the process's decode budget, held while a stored image is decoded (none: not metered). */
export function storedImages(store: BlobStore, decodeBudget?: PixelBudget): ImageSource {
  const unlessOutage = <T>(value: T | null): T | null => {
    if (value === null && !store.isHealthy()) {
      throw new InferenceError("store_unavailable", "the image store is unreachable right now; retry shortly");
    }
    return value;
  };
  return {
    async size(imageId, tenant) {
      const record = unlessOutage(await loadImageRecord(imageId, { store }, tenant));
      return record && { width: record.width, height: record.height };
    },
    async pixels(imageId, tenant) {
      return unlessOutage(await loadCanonicalImage(imageId, { store, decodeBudget }, tenant));
    },
  };
}
