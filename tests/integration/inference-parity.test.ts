import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planGeneration } from "@/lib/inference/generationPlan";
import { storedImages } from "@/lib/inference/imageSource";
import { parseGenerationRequest } from "@/lib/inference/request";
import { collect, MAX_IMAGE_PIXELS, startInferenceHarness, TURNS, type InferenceHarness } from "./inference-support";

/**
 * The whole pipeline against the PyTorch fixtures: the fixture's chat messages, with its images uploaded to a real
 * redis and named by id, go through the pipeline's own image resolution, preprocessing, chat template and tokenizer,
 * and must give the fixture's input_ids exactly and its 24 greedy tokens (the fixture's greedy run contains no EOS,
 * so the pipeline's EOS handling does not cut it short).
 */
for (const fixture of ["tiny-deepstack-tied", "tiny-plain-untied"]) {
  describe(`inference pipeline parity: ${fixture}`, () => {
    let h: InferenceHarness;
    beforeAll(async () => {
      h = await startInferenceHarness(fixture);
    });
    afterAll(() => h?.teardown());

    it("turns each turn's messages into the fixture's input_ids, with the fixture's image grids", async () => {
      for (const name of TURNS) {
        const turn = h.reference[name];
        const plan = await planGeneration(parseGenerationRequest({ messages: h.messages(turn) }), {
          model: h.model,
          images: storedImages(h.store),
          featureStorage: "fp32",
          maxImagePixels: MAX_IMAGE_PIXELS,
          contextTokens: h.model.maxPositions,
        });
        expect(plan.prompt.inputIds).toEqual(turn.input_ids);
        const expectedGrids =
          name === "text_only" ? [] : h.reference.image_grid_thw.map(([t, gh, w]) => ({ t, h: gh, w }));
        expect(plan.images.map((i) => i.grid)).toEqual(expectedGrids);
        expect(plan.prompt.imageSpans.map((s) => s.length)).toEqual(
          name === "text_only" ? [] : h.reference.image_tokens,
        );
      }
    });

    for (const name of TURNS) {
      it(`generates ${name}'s greedy tokens and streams their text`, async () => {
        const turn = h.reference[name];
        const { done, meta, text, events } = await collect(
          h.pipeline().generate({ messages: h.messages(turn), maxNewTokens: turn.greedy.length }),
        );
        expect(done.tokenIds).toEqual(turn.greedy);
        expect(done.finishReason).toBe("length");
        expect(done.usage).toEqual({ promptTokens: turn.input_ids.length, completionTokens: turn.greedy.length });
        expect(done.seed).toBeNull();
        expect(text).toBe(h.model.tokenizer.decode(turn.greedy, { skipSpecialTokens: true }));
        expect(events[0]).toEqual({ type: "accepted", queuedBehind: 0 });
        expect(events[1]).toBe(meta);
        const images =
          name === "text_only"
            ? []
            : h.reference.images_in_order.map((image) => ({ imageId: h.imageIds[image], source: "computed" }));
        expect(meta?.cache).toEqual({
          features: images,
          prefix: { reused: 0, total: turn.input_ids.length },
          response: "bypass",
        });
        const t = done.timings;
        expect(t.ttftMs).toBeGreaterThan(0);
        expect(t.totalMs).toBeGreaterThanOrEqual(t.ttftMs as number);
        expect(t.prefillMs).toBeGreaterThan(0);
        expect(t.decodeTokensPerSecond).toBeGreaterThan(0);
        if (name === "text_only") expect([t.preprocessMs, t.visionMs]).toEqual([0, 0]);
        else expect(Math.min(t.preprocessMs, t.visionMs)).toBeGreaterThan(0);
      });
    }
  });
}
