/**
 * Upload precomputes across the served model's lifecycle (modelRuntime.ts). Before the model is up, an uploaded
 * image is remembered (id and tenant, not its pixels) and reported `encoding`; when the model is ready each
 * remembered image is read back from the image store and handed to the model's precompute, so it is encoded as soon
 * as the model can. From then on uploads go straight to the model. If the model fails to load, the remembered images
 * are dropped and reported `ready` like every other stored image: nothing will encode them, and a question about one
 * gets the model's 503.
 *
 * Invariants: an image is reported `encoding` from its upload until its precompute has been handed over (then the
 * model's state answers); at most MAX_WAITING images wait (the oldest is dropped first: its first question encodes it).
 */

import type { ImageStatus } from "@/lib/api/types";
import type { PrecomputeState } from "@/lib/cache/precomputeStatus";
import type { ImageId, TenantId } from "@/lib/ids";
import type { UploadedImage } from "@/lib/inference/modelCaches";
import type { Logger } from "@/lib/log";
import type { ImagePrecompute } from "./images";

const MAX_WAITING = 1024;

export type LoadUploadedImage = (imageId: ImageId, tenant: TenantId) => Promise<UploadedImage | null>;

export class UploadPrecompute implements ImagePrecompute {
  private model: ImagePrecompute | null = null;
  private failed = false;
  private readonly waiting = new Map<
    string,
    { readonly imageId: ImageId; readonly tenant: TenantId; readonly since: number }
  >();

  constructor(
    private readonly loadImage: LoadUploadedImage,
    private readonly logger: Logger,
  ) {}

  precompute(image: UploadedImage, tenant: TenantId): ImageStatus {
    if (this.model !== null) return this.model.precompute(image, tenant);
    if (this.failed) return "ready";
    if (this.waiting.size >= MAX_WAITING) this.waiting.delete(this.waiting.keys().next().value!);
    this.waiting.set(waitingKey(image.id, tenant), { imageId: image.id, tenant, since: Date.now() });
    return "encoding";
  }

  async imageState(imageId: ImageId, tenant: TenantId): Promise<PrecomputeState> {
    const waiting = this.waiting.get(waitingKey(imageId, tenant));
    if (waiting !== undefined) return { status: "encoding", startedAt: waiting.since };
    if (this.model !== null) return this.model.imageState(imageId, tenant);
    return { status: "ready", encodingMs: null };
  }

  /** The model is up: hands it every waiting image, oldest first; uploads from now on go to it directly. */
  async modelReady(model: ImagePrecompute): Promise<void> {
    this.model = model;
    for (const [key, { imageId, tenant }] of this.waiting) {
      try {
        const image = await this.loadImage(imageId, tenant);
        if (image !== null) model.precompute(image, tenant);
      } catch (error) {
        this.logger.warn(
          { module: "model", imageId, err: error },
          "precompute of an image uploaded while the model loaded failed; its first question encodes it",
        );
      } finally {
        this.waiting.delete(key);
      }
    }
  }

  /** The model will not come up: nothing will encode the waiting images. */
  modelFailed(): void {
    this.failed = true;
    this.waiting.clear();
  }
}

function waitingKey(imageId: ImageId, tenant: TenantId): string {
  return `${tenant}:${imageId}`;
}
