/**
 * The features of a request's images through the features seam (a), once per distinct image, for its prefill.
 *
 * Device path (the engine keeps fresh features on the device, Engine.imageFeaturesOnDevice, and the seam stores fp32,
 * so what it serves is exactly what was computed): an image this request encodes goes to prefill straight from the
 * vision encoder, still in device memory. The seam's `compute` meanwhile waits; after the first token
 * (`afterFirstToken`) it downloads the features (FeatureOps.download: the host path's values) and returns them, so L1
 * keeps — and its single flight hands to anyone who joined — exactly what the host path keeps, while the download and
 * the L1 write leave the path to the first token. Other storage dtypes round what they serve, so there the seam's
 * answer (host features) is what prefill reads, as on the CPU.
 *
 * Lifetime: `settle` must run once the run no longer needs the features, whatever happened (a `finally`): it starts
 * any download still waiting — a compute that never downloads would hold its single flight, and every later request
 * for that image, forever — waits for the seam's look-ups to end (L1 written) and frees the device features.
 */

import type { FeatureKey } from "@/lib/cache/featureIdentity";
import type { RgbImage } from "@/lib/images/preprocess/resizeImage";
import {
  releaseDeviceImageFeatures,
  type DeviceImageFeatures,
  type ImageFeatures,
  type PrefillImage,
} from "@/lib/model/engine/imageFeatures";
import { timeStage } from "@/lib/stageTimes";
import type { CacheSeams, FeatureResult, SeamContext } from "./cacheSeams";
import type { CacheReport } from "./events";
import type { GenerationPlan } from "./generationPlan";
import { encodeImage, encodeImageOnDevice, type EncodedImage } from "./imageEncoding";
import type { InferenceModel } from "./inferenceModel";
import type { RequestClock } from "./requestClock";

export interface FeatureDeps {
  readonly plan: GenerationPlan;
  readonly model: InferenceModel;
  readonly seams: CacheSeams;
  /** Its signal is the request's cancellation. */
  readonly seamContext: SeamContext;
  readonly clock: RequestClock;
}

export interface ImageFeatureSet {
  /** Indexed like the prompt's images; undefined for an image prefill does not read. */
  readonly perImage: (PrefillImage | undefined)[];
  /** One entry per distinct image, in prompt order. */
  readonly distinct: CacheReport["features"];
}

/** One image encoded on the device for this request: prefill reads it, then the seam's compute downloads it. */
class DeviceHandoff {
  private offered!: (features: DeviceImageFeatures) => void;
  /** Resolves with the device features once the seam's compute has encoded them. */
  readonly ready = new Promise<DeviceImageFeatures>((resolve) => (this.offered = resolve));
  private go!: () => void;
  private readonly started = new Promise<void>((resolve) => (this.go = resolve));
  private downloadedOrFailed!: () => void;
  /** Resolves once the download ran (or failed): the device is free for the next decoder run. */
  readonly downloaded = new Promise<void>((resolve) => (this.downloadedOrFailed = resolve));

  /** Whether the seam's compute ran here and handed features over (else the seam answered without it). */
  wasOffered = false;

  constructor(private readonly model: InferenceModel) {}

  /** The seam's compute, after encoding: hands the features over, waits for `start`, returns their host copy. */
  async offer(device: DeviceImageFeatures): Promise<ImageFeatures> {
    try {
      this.wasOffered = true;
      this.offered(device);
      await this.started;
      return await timeStage("vision_outputs", () => this.model.engine.downloadImageFeatures(device));
    } finally {
      releaseDeviceImageFeatures(device);
      this.downloadedOrFailed();
    }
  }

  start(): void {
    this.go();
  }
}

interface Lookup {
  readonly result: Promise<FeatureResult | null>;
  /** Set when this request encodes the image on the device. */
  readonly handoff: DeviceHandoff | null;
}

export class RequestFeatures {
  private readonly lookups: Lookup[] = [];
  private settled: Promise<void> | null = null;

  constructor(private readonly deps: FeatureDeps) {}

  /**
   * Looks the images up (computing them when missing); null when cancelled meanwhile. `needed[k]` false marks image k
   * as lying wholly inside the reused prefix: the seam serves its features only when cached, and an image left
   * without features is not reported (nothing was computed or read for it).
   */
  async fetch(needed: readonly boolean[]): Promise<ImageFeatureSet | null> {
    const { plan, seams, seamContext: ctx } = this.deps;
    const onDevice = this.deps.model.engine.imageFeaturesOnDevice && seams.features.storage === "fp32";
    const features = new Map<FeatureKey, PrefillImage | undefined>();
    const distinct: CacheReport["features"][number][] = [];
    for (const image of plan.images) {
      if (features.has(image.key)) continue;
      if (ctx.signal.aborted) return null;
      // The same image twice: required if any of its occurrences is.
      const required = plan.images.some((other, k) => other.key === image.key && needed[k]);
      const handoff = onDevice ? new DeviceHandoff(this.deps.model) : null;
      const compute = () => this.compute(() => image.image.pixels(), handoff);
      const result = seams.features.getFeatures(
        { identity: image.identity, key: image.key, grid: image.grid, required },
        compute,
        ctx,
      );
      this.lookups.push({ result, handoff });
      // The seam answers (cached, or another flight's features), or this request's compute offers device features.
      const first = await Promise.race([
        result.then((answer) => ({ answer })),
        ...(handoff ? [handoff.ready.then((device) => ({ device }))] : []),
      ]);
      if ("device" in first) {
        features.set(image.key, first.device);
        distinct.push({ imageId: image.identity.imageId, source: "computed" });
        continue;
      }
      if (first.answer === null && required)
        throw new Error(`features seam gave no features for required image ${image.identity.imageId}`);
      features.set(image.key, first.answer?.features);
      if (first.answer !== null) distinct.push({ imageId: image.identity.imageId, source: first.answer.source });
    }
    return { perImage: plan.images.map((image) => features.get(image.key)), distinct };
  }

  /** Downloads the device features (the device is free again when this resolves). */
  async afterFirstToken(): Promise<void> {
    const handoffs = this.lookups.flatMap(({ handoff }) => (handoff?.wasOffered ? [handoff] : []));
    for (const handoff of handoffs) handoff.start();
    await Promise.all(handoffs.map((handoff) => handoff.downloaded));
  }

  /** Ends every look-up (see the module comment); the first failure is thrown. Idempotent. */
  settle(): Promise<void> {
    this.settled ??= (async () => {
      for (const { handoff } of this.lookups) handoff?.start();
      const outcomes = await Promise.allSettled(this.lookups.map(({ result }) => result));
      const failed = outcomes.find((outcome) => outcome.status === "rejected");
      if (failed) throw failed.reason;
    })();
    return this.settled;
  }

  private async compute(pixels: () => Promise<RgbImage>, handoff: DeviceHandoff | null): Promise<ImageFeatures> {
    const { model, clock } = this.deps;
    const rgb = await timeStage("image_decode", pixels);
    const timed = <F>(encoded: EncodedImage<F>): F => {
      clock.addPreprocess(encoded.preprocessMs);
      clock.addVision(encoded.visionMs);
      return encoded.features;
    };
    if (handoff === null) return timed(await encodeImage(model, rgb));
    return handoff.offer(timed(await encodeImageOnDevice(model, rgb)));
  }
}
