import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueFullError } from "@/lib/inference/errors";
import type { DoneEvent, GenerationEvent } from "@/lib/inference/events";
import type { InferencePipeline } from "@/lib/inference/pipeline";
import { GenerationScheduler } from "@/lib/inference/scheduler";
import { metricsRegistry } from "@/lib/metrics/registry";
import { liveKvBytes } from "@/lib/model/engine/kvCache";
import { collect, startInferenceHarness, type InferenceHarness } from "./inference-support";
import { asRequestError } from "@/lib/server/requestError";

/**
 * Sharing one engine: FIFO order, concurrency, the bounded queue, and cancellation — which must stop a running
 * request within one decode step, take a waiting one out of the queue, and give back every KV byte (measured by the
 * engine's live-KV accounting) and, over many cancelled requests, process memory (measured after forced GCs).
 */
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

let h: InferenceHarness;
beforeAll(async () => {
  h = await startInferenceHarness("tiny-deepstack-tied");
});
afterAll(() => h?.teardown());

const LONG = 1_000;
const textOnly = () => h.messages(h.reference.text_only);
const withImages = () => h.messages(h.reference.turn1);

async function queueGauge(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric("vlcache_queue_length")?.get();
  return metric?.values[0]?.value ?? 0;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Consumes a stream, aborting its request once `abortAfterTokens` token events have arrived (0: right after
 * `accepted`). Returns the events and how many tokens the consumer had seen when it aborted.
 */
async function runAndAbort(
  pipeline: InferencePipeline,
  messages: ReturnType<typeof textOnly>,
  abortAfterTokens: number,
) {
  const controller = new AbortController();
  const events: GenerationEvent[] = [];
  let tokensAtAbort = -1;
  let liveKvWhileRunning = 0;
  let tokens = 0;
  for await (const event of pipeline.generate({ messages, maxNewTokens: LONG, signal: controller.signal })) {
    events.push(event);
    if (event.type === "token") {
      tokens++;
      liveKvWhileRunning = Math.max(liveKvWhileRunning, liveKvBytes());
    }
    const ready =
      abortAfterTokens === 0 ? event.type === "accepted" : event.type === "token" && tokens === abortAfterTokens;
    if (ready && tokensAtAbort === -1) {
      tokensAtAbort = tokens;
      controller.abort();
    }
  }
  return { events, done: events.at(-1) as DoneEvent, tokensAtAbort, liveKvWhileRunning };
}

describe("one engine, many requests", () => {
  it("starts requests in admission order, one at a time, each with its own correct answer", async () => {
    const pipeline = h.pipeline();
    const finished: number[] = [];
    const runs = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const result = await collect(pipeline.generate({ messages: textOnly(), maxNewTokens: 8 }));
        finished.push(i);
        return result;
      }),
    );
    const positions = runs.map((r) => (r.events[0] as Extract<GenerationEvent, { type: "accepted" }>).queuedBehind);
    expect([...positions].sort()).toEqual([0, 1, 2, 3]);
    // FIFO: the request admitted n-th finishes n-th.
    expect(finished.map((i) => positions[i])).toEqual([0, 1, 2, 3]);
    for (const run of runs) expect(run.done.tokenIds).toEqual(h.reference.text_only.greedy.slice(0, 8));
    // Each waits for every run admitted before it, so waiting times grow with the position.
    const waits = [0, 1, 2, 3].map((p) => runs[positions.indexOf(p)].done.timings.queueMs);
    for (let p = 1; p < 4; p++) expect(waits[p]).toBeGreaterThan(waits[p - 1]);
  });

  it("runs up to the configured concurrency at once on the shared sessions", async () => {
    const scheduler = new GenerationScheduler({ concurrency: 2 });
    const pipeline = h.pipeline({ scheduler });
    let mostRunning = 0;
    const runs = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const events: GenerationEvent[] = [];
        for await (const event of pipeline.generate({ messages: withImages(), maxNewTokens: 12 })) {
          mostRunning = Math.max(mostRunning, scheduler.running);
          events.push(event);
        }
        return events.at(-1) as DoneEvent;
      }),
    );
    expect(mostRunning).toBe(2);
    for (const done of runs) expect(done.tokenIds).toEqual(h.reference.turn1.greedy.slice(0, 12));
  });

  it("refuses a request when the queue is full with QueueFullError (503 + retry hint), before any event", async () => {
    const scheduler = new GenerationScheduler({ maxQueued: 2 });
    const pipeline = h.pipeline({ scheduler });
    const gaugeBefore = await queueGauge();
    const controllers = [0, 1, 2].map(() => new AbortController());
    const streams = controllers.map((c) =>
      pipeline.generate({ messages: textOnly(), maxNewTokens: LONG, signal: c.signal })[Symbol.asyncIterator](),
    );
    for (const stream of streams) expect((await stream.next()).value).toMatchObject({ type: "accepted" });
    expect([scheduler.running, scheduler.queueLength]).toEqual([1, 2]);
    expect(await queueGauge()).toBe(gaugeBefore + 2);

    const refused = pipeline.generate({ messages: textOnly(), maxNewTokens: 4 })[Symbol.asyncIterator]();
    const error = await refused.next().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueueFullError);
    expect(asRequestError(error)!.status).toBe(503);
    expect((error as QueueFullError).code).toBe("queue_full");
    expect((error as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect([scheduler.running, scheduler.queueLength]).toEqual([1, 2]);

    for (const c of controllers) c.abort();
    const ends: GenerationEvent[] = [];
    for (const stream of streams)
      for (let r = await stream.next(); !r.done; r = await stream.next()) ends.push(r.value);
    expect(ends.filter((e) => e.type === "done").map((e) => (e as DoneEvent).finishReason)).toEqual([
      "cancelled",
      "cancelled",
      "cancelled",
    ]);
    expect(await queueGauge()).toBe(gaugeBefore);
  });
});

describe("cancellation", () => {
  it("takes a waiting request out of the queue at once; it ends cancelled without meta or tokens", async () => {
    const scheduler = new GenerationScheduler();
    const pipeline = h.pipeline({ scheduler });
    const running = new AbortController();
    const firstEvents = pipeline.generate({ messages: textOnly(), maxNewTokens: LONG, signal: running.signal });
    const first = firstEvents[Symbol.asyncIterator]();
    expect((await first.next()).value).toMatchObject({ type: "accepted", queuedBehind: 0 });
    const waiting = runAndAbort(pipeline, withImages(), 0);
    await until(() => scheduler.queueLength === 0 && scheduler.running === 1, "the waiting request left the queue");
    const { events, done } = await waiting;
    expect(events.map((e) => e.type)).toEqual(["accepted", "done"]);
    expect(done).toMatchObject({ finishReason: "cancelled", usage: { completionTokens: 0 }, tokenIds: [] });
    expect(scheduler.running).toBe(1);
    running.abort();
    for (let r = await first.next(); !r.done; r = await first.next());
    expect(scheduler.running).toBe(0);
  });

  it("stops a running request within one decode step and releases its KV", async () => {
    const baseline = liveKvBytes();
    const scheduler = new GenerationScheduler();
    const { done, tokensAtAbort, liveKvWhileRunning } = await runAndAbort(h.pipeline({ scheduler }), withImages(), 5);
    expect(tokensAtAbort).toBe(5);
    expect(done.finishReason).toBe("cancelled");
    expect(done.usage.completionTokens).toBeGreaterThanOrEqual(5);
    expect(done.usage.completionTokens).toBeLessThanOrEqual(6);
    expect(done.tokenIds).toEqual(h.reference.turn1.greedy.slice(0, done.tokenIds.length));
    expect(liveKvWhileRunning).toBeGreaterThan(baseline);
    expect(liveKvBytes()).toBe(baseline);
    expect([scheduler.running, scheduler.queueLength]).toEqual([0, 0]);
  });

  it("cancels when the consumer leaves the loop early, and frees the slot and KV", async () => {
    const baseline = liveKvBytes();
    const scheduler = new GenerationScheduler();
    const pipeline = h.pipeline({ scheduler });
    let tokens = 0;
    for await (const event of pipeline.generate({ messages: textOnly(), maxNewTokens: LONG })) {
      if (event.type === "token" && ++tokens === 3) break;
    }
    await until(() => scheduler.running === 0, "the abandoned generation released its slot");
    expect(liveKvBytes()).toBe(baseline);
    const next = await collect(pipeline.generate({ messages: textOnly(), maxNewTokens: 4 }));
    expect(next.done.tokenIds).toEqual(h.reference.text_only.greedy.slice(0, 4));
  });

  it("returns live KV to the baseline and keeps process memory bounded over many cancelled requests", async () => {
    const scheduler = new GenerationScheduler({ maxQueued: 64 });
    const pipeline = h.pipeline({ scheduler });
    /** One wave: 6 requests at once, 4 cancelled while decoding (after 1–8 tokens), 2 while still queued. */
    const wave = (w: number) =>
      Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) =>
          runAndAbort(pipeline, (w + i) % 2 === 0 ? withImages() : textOnly(), i >= 4 ? 0 : 1 + ((w * 3 + i) % 8)),
        ),
      );
    const memory = () => {
      gc();
      gc();
      const usage = process.memoryUsage();
      return { heapAndBuffers: usage.heapUsed + usage.arrayBuffers, rss: usage.rss };
    };

    for (let w = 0; w < 3; w++) await wave(w); // warm-up: ORT arenas, JIT, tokenizer caches
    const baselineKv = liveKvBytes();
    const before = memory();
    const WAVES = 15;
    let cancelledWhileDecoding = 0;
    let cancelledWhileQueued = 0;
    let maxOvershoot = 0;
    for (let w = 0; w < WAVES; w++) {
      for (const run of await wave(w)) {
        expect(run.done.finishReason).toBe("cancelled");
        if (run.events.some((e) => e.type === "token")) {
          cancelledWhileDecoding++;
          maxOvershoot = Math.max(maxOvershoot, run.done.usage.completionTokens - run.tokensAtAbort);
        } else cancelledWhileQueued++;
      }
      expect([scheduler.running, scheduler.queueLength]).toEqual([0, 0]);
      expect(liveKvBytes()).toBe(baselineKv);
    }
    const after = memory();
    const growth = { heapAndBuffers: after.heapAndBuffers - before.heapAndBuffers, rss: after.rss - before.rss };
    console.info(
      `cancelled ${cancelledWhileDecoding} while decoding (≤ ${maxOvershoot} token after abort) and ${cancelledWhileQueued} while queued; ` +
        `heap+arrayBuffers ${(growth.heapAndBuffers / 2 ** 20).toFixed(2)} MiB, rss ${(growth.rss / 2 ** 20).toFixed(2)} MiB growth`,
    );
    expect(cancelledWhileDecoding).toBeGreaterThanOrEqual(WAVES * 3);
    expect(cancelledWhileQueued).toBeGreaterThanOrEqual(WAVES);
    expect(maxOvershoot).toBeLessThanOrEqual(1);
    expect(liveKvBytes()).toBe(baselineKv);
    // One logits row alone is 151936 × 4 B ≈ 0.6 MiB: keeping one per cancelled request would exceed this bound 3×.
    expect(growth.heapAndBuffers).toBeLessThan(16 * 2 ** 20);
    expect(growth.rss).toBeLessThan(64 * 2 ** 20);
  });
});
