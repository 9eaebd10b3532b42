import { readFile } from "node:fs/promises";
import path from "node:path";
import { RedisBlobStore, createRedisClient, waitUntilReady } from "@/lib/cache/store/redisBlobStore";
import type { ImageId } from "@/lib/ids";
import type { DoneEvent, GenerationEvent, MetaEvent } from "@/lib/inference/events";
import { storedImages } from "@/lib/inference/imageSource";
import { loadInferenceModel, type InferenceModel, type LoadModelOptions } from "@/lib/inference/inferenceModel";
import { InferencePipeline, type PipelineOptions } from "@/lib/inference/pipeline";
import type { GenerationRequestInput } from "@/lib/inference/request";
import { createLogger } from "@/lib/log";
import { storeImage } from "@/lib/server/images";
import { startTestRedis, type TestRedis } from "@/tests/support/redisServer";
import { fixtureBundle, fixtureDir, readReference, type Reference, type Turn } from "./engineFixtures";

/**
 * Shared set-up of the inference integration tests: a real redis-server holding the fixture's images as uploads
 * store them, a bundle converted from the fixture's checkpoint (cached in .cache/test-bundles), and the model loaded
 * with real ORT sessions on the CPU.
 */

export const MAX_IMAGE_PIXELS = 40_000_000;

/** A fixture turn as reference.json has it: messages name images by file name. */
export interface FixtureTurn extends Turn {
  messages: {
    role: "system" | "user" | "assistant";
    content: string | ({ type: "text"; text: string } | { type: "image"; image: string })[];
  }[];
}

export type FixtureReference = Reference & { turn1: FixtureTurn; turn2: FixtureTurn; text_only: FixtureTurn };
export const TURNS = ["turn1", "turn2", "text_only"] as const;

export interface InferenceHarness {
  readonly fixture: string;
  readonly reference: FixtureReference;
  readonly bundleDir: string;
  readonly model: InferenceModel;
  readonly store: RedisBlobStore;
  readonly redis: TestRedis;
  /** The fixture's images stored like uploads; file name → canonical image id. */
  readonly imageIds: Readonly<Record<string, ImageId>>;
  pipeline(options?: Partial<PipelineOptions>): InferencePipeline;
  /** A fixture turn's messages with every image named by its stored id. */
  messages(turn: FixtureTurn): GenerationRequestInput["messages"];
  teardown(): Promise<void>;
}

export async function startInferenceHarness(
  fixture: string,
  modelOptions: LoadModelOptions = {},
): Promise<InferenceHarness> {
  const reference = readReference(fixture) as FixtureReference;
  const redis = await startTestRedis();
  const client = createRedisClient(redis.url);
  await waitUntilReady(client, 5_000);
  const logger = createLogger("silent");
  const store = new RedisBlobStore(client, logger);
  const imageIds: Record<string, ImageId> = {};
  for (const name of reference.images_in_order) {
    const file = await readFile(path.join(fixtureDir(fixture), "images", name));
    const stored = await storeImage(file, {
      store,
      logger,
      config: { imageTtlSeconds: 3600, maxUploadBytes: 1 << 24, maxImagePixels: MAX_IMAGE_PIXELS },
    });
    if (!stored.ok) throw new Error(`fixture image ${name}: ${stored.error.message}`);
    imageIds[name] = stored.answer.imageId;
  }
  const bundleDir = await fixtureBundle(fixture);
  const model = await loadInferenceModel(bundleDir, { executionProvider: "cpu", ...modelOptions });
  return {
    fixture,
    reference,
    bundleDir,
    model,
    store,
    redis,
    imageIds,
    pipeline: (options = {}) =>
      new InferencePipeline({ model, images: storedImages(store), maxImagePixels: MAX_IMAGE_PIXELS, ...options }),
    messages: (turn) =>
      turn.messages.map((m) => ({
        role: m.role,
        content:
          typeof m.content === "string"
            ? m.content
            : m.content.map((p) => (p.type === "text" ? p : { type: "image" as const, imageId: imageIds[p.image] })),
      })),
    async teardown() {
      await model.release();
      await store.close();
      await redis.teardown();
    },
  };
}

export interface Collected {
  readonly events: GenerationEvent[];
  readonly meta: MetaEvent | undefined;
  readonly text: string;
  readonly done: DoneEvent;
}

/** Runs a stream to its end; the answer's text is the concatenation of its token events. */
export async function collect(stream: AsyncIterable<GenerationEvent>): Promise<Collected> {
  const events: GenerationEvent[] = [];
  for await (const event of stream) events.push(event);
  const done = events.at(-1);
  if (done?.type !== "done") throw new Error(`the stream ended with ${done?.type ?? "nothing"}, not done`);
  return {
    events,
    meta: events.find((e): e is MetaEvent => e.type === "meta"),
    text: events.map((e) => (e.type === "token" ? e.text : "")).join(""),
    done,
  };
}
