/**
 * Vision tower parity: `image_features` against vision_image_features.npy [N, H] and the DeepStack features against
 * vision_deepstack.npy [nDeepstack, N, H], N = all merged tokens of `images_in_order`.
 */

import { npyAsFloat32 } from "@/lib/model/npy";
import { maxAbsDiff } from "../compare";
import { concatFloat32 } from "../fixture";
import { notApplicable, type CheckRow, type ParityCheck } from "../types";
import { fixtureImageFeatures } from "./fixtureImages";

const THRESHOLD = 1e-4;
const THRESHOLD_TEXT = "≤ 1e-4";

export const visionCheck: ParityCheck = {
  name: "vision",
  async run(ctx) {
    const features = await fixtureImageFeatures(ctx);
    const expectedFeatures = await ctx.fixture.readNpy("vision_image_features.npy");
    const expectedDeepstack = await ctx.fixture.readNpy("vision_deepstack.npy");
    if (features === null || expectedFeatures === null) {
      return [
        notApplicable(
          "vision features",
          "max |Δ|",
          THRESHOLD_TEXT,
          "fixture has no images, pixel values or vision_image_features.npy",
        ),
        notApplicable("vision deepstack", "max |Δ|", THRESHOLD_TEXT),
      ];
    }
    const rows: CheckRow[] = [];
    const actual = concatFloat32(features.map((f) => f.features));
    rows.push(diffRow("vision features", actual, npyAsFloat32(expectedFeatures), expectedFeatures.shape));

    const hidden = features[0].hidden;
    const layers = (await ctx.engine()).config.vision.deepstackVisualIndexes.length;
    if (layers === 0 || expectedDeepstack === null || expectedDeepstack.shape[0] === 0) {
      rows.push(
        notApplicable(
          "vision deepstack",
          "max |Δ|",
          THRESHOLD_TEXT,
          layers === 0 ? undefined : "fixture has no vision_deepstack.npy",
        ),
      );
      return rows;
    }
    // Engine: per image [nDeepstack, tokens, H]; reference: [nDeepstack, Σ tokens, H].
    const totalTokens = features.reduce((sum, f) => sum + f.tokens, 0);
    const stacked = new Float32Array(layers * totalTokens * hidden);
    let tokenOffset = 0;
    for (const f of features) {
      if (f.deepstack === null) throw new Error("the engine returned no DeepStack features for a DeepStack model");
      for (let l = 0; l < layers; l++) {
        const layer = f.deepstack.subarray(l * f.tokens * hidden, (l + 1) * f.tokens * hidden);
        stacked.set(layer, (l * totalTokens + tokenOffset) * hidden);
      }
      tokenOffset += f.tokens;
    }
    rows.push(diffRow("vision deepstack", stacked, npyAsFloat32(expectedDeepstack), expectedDeepstack.shape));
    return rows;
  },
};

function diffRow(check: string, actual: Float32Array, expected: Float32Array, expectedShape: number[]): CheckRow {
  if (actual.length !== expected.length) {
    return {
      check,
      metric: "max |Δ|",
      value: "shape",
      threshold: THRESHOLD_TEXT,
      pass: false,
      note: `${check}: ${actual.length} values, reference shape [${expectedShape.join(", ")}]`,
    };
  }
  const diff = maxAbsDiff(actual, expected);
  return { check, metric: "max |Δ|", value: diff.toExponential(2), threshold: THRESHOLD_TEXT, pass: diff <= THRESHOLD };
}
