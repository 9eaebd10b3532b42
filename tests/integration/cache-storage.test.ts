import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FeatureDtype } from "@/lib/cache/featureRecord";
import { loadConfig } from "@/lib/config";
import { createModelCaches } from "@/lib/inference/modelCaches";
import { createLogger } from "@/lib/log";
import { ask } from "@/tests/support/chatScript";
import { startInferenceHarness, TURNS, type InferenceHarness } from "./inference-support";

/**
 * L1 storage dtypes against the fixtures: fp16 and int8 feature records change the features slightly (bounds in
 * cache-l1.test.ts); here, whether they change the 24 greedy tokens of every fixture turn. The fixtures' reference
 * turns are the ones PyTorch produced, so the fp32 answers are those tokens exactly.
 */
const STEPS = 24;

describe.each(["tiny-deepstack-tied", "tiny-plain-untied"])("L1 storage dtype and greedy tokens: %s", (fixture) => {
  let harness: InferenceHarness;
  beforeAll(async () => {
    harness = await startInferenceHarness(fixture);
  });
  afterAll(() => harness?.teardown());

  it.each<FeatureDtype>(["fp32", "fp16", "int8"])(
    "keeps every turn's greedy tokens with %s features, computed and cached",
    async (storage) => {
      const defaults = loadConfig({}).caches;
      const caches = createModelCaches(
        harness.model,
        harness.store,
        { ...defaults, l1: { ...defaults.l1, storage } },
        createLogger("silent"),
      );
      const pipeline = harness.pipeline({ seams: caches.seams });
      for (const name of TURNS) {
        const turn = harness.reference[name];
        // Twice: features computed (first) and served from L1 (second); L2 and L3 off so each run prefills in full.
        for (let run = 0; run < 2; run++) {
          const answer = await ask(pipeline, harness.messages(turn), {
            maxNewTokens: STEPS,
            cache: { l2: false, l3: false },
          });
          expect(answer.tokenIds, `${name}, ${storage}, run ${run + 1}`).toEqual(turn.greedy.slice(0, STEPS));
        }
      }
    },
  );
});
