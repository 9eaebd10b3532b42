import path from "node:path";
import { env, Qwen3VLForConditionalGeneration, Tensor } from "@huggingface/transformers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "@/lib/model/engine/engine";
import { fixtureBundle, fixtureGrids, fixturePixelValues, readReference, type Reference } from "./engineFixtures";

/**
 * A vlcache bundle of a model without DeepStack is a transformers.js model folder as is: transformers.js 4.3 loads
 * its three sessions from the local folder (no hub access) and generates the same greedy tokens as vlcache — and as
 * PyTorch — for turn 1 with its images.
 */
const NAME = "tiny-plain-untied";

describe("interop with transformers.js", () => {
  let bundle: string;
  let reference: Reference;

  beforeAll(async () => {
    bundle = await fixtureBundle(NAME);
    reference = readReference(NAME);
  });

  let model: Awaited<ReturnType<typeof Qwen3VLForConditionalGeneration.from_pretrained>> | undefined;
  afterAll(async () => {
    await model?.dispose();
  });

  it("generates turn1's greedy tokens from the bundle folder, like vlcache", async () => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${path.dirname(bundle)}/`;
    model = await Qwen3VLForConditionalGeneration.from_pretrained(path.basename(bundle), {
      dtype: "fp32",
      device: "cpu",
    });

    const ids = reference.turn1.input_ids;
    const grids = fixtureGrids(reference);
    const pixelValues = fixturePixelValues(NAME, reference);
    const rowSize = 1536; // C·T·P·P = 3 · 2 · 16 · 16
    const output = (await model.generate({
      input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new Tensor("int64", new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      pixel_values: new Tensor("float32", pixelValues, [pixelValues.length / rowSize, rowSize]),
      image_grid_thw: new Tensor(
        "int64",
        BigInt64Array.from(
          grids.flatMap((g) => [g.t, g.h, g.w]),
          BigInt,
        ),
        [grids.length, 3],
      ),
      max_new_tokens: reference.turn1.greedy.length,
      do_sample: false,
    } as Parameters<typeof model.generate>[0])) as Tensor;
    const transformersJs = (output.tolist() as bigint[][])[0].slice(ids.length).map(Number);

    const engine = await Engine.load(bundle, { executionProvider: "cpu" });
    try {
      const vlcache = await engine.generate({
        inputIds: ids,
        pixelValues,
        imageGridThw: grids,
        maxNewTokens: reference.turn1.greedy.length,
        eosTokenIds: [],
      });
      expect(transformersJs).toEqual(vlcache);
      expect(vlcache).toEqual(reference.turn1.greedy);
    } finally {
      await engine.release();
    }
  });
});
