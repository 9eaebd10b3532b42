/** The decoder's first-step logits for turn1 (prefill of the whole prompt) against turn1_first_logits.npy [V]. */

import { npyAsFloat32 } from "@/lib/model/npy";
import { maxAbsDiff } from "../compare";
import { notApplicable, type ParityCheck } from "../types";
import { turnImages } from "./turnImages";

const THRESHOLD = 1e-3;
const CHECK = "turn1 first logits";

export const firstLogitsCheck: ParityCheck = {
  name: "first-logits",
  async run(ctx) {
    const turn = ctx.fixture.reference.turn1;
    const expected = await ctx.fixture.readNpy("turn1_first_logits.npy");
    if (turn === undefined || expected === null)
      return [notApplicable(CHECK, "max |Δ|", "≤ 1e-3", "fixture has no turn1 or turn1_first_logits.npy")];
    const engine = await ctx.engine();
    const { grids, images } = await turnImages(ctx, turn.input_ids);
    const step = await engine.prefill(engine.prepare(turn.input_ids, grids), images);
    const reference = npyAsFloat32(expected);
    if (reference.length !== step.logits.length) {
      return [
        {
          check: CHECK,
          metric: "max |Δ|",
          value: "shape",
          threshold: "≤ 1e-3",
          pass: false,
          note: `${step.logits.length} logits vs reference [${expected.shape.join(", ")}]`,
        },
      ];
    }
    const diff = maxAbsDiff(step.logits, reference);
    return [
      { check: CHECK, metric: "max |Δ|", value: diff.toExponential(2), threshold: "≤ 1e-3", pass: diff <= THRESHOLD },
    ];
  },
};
