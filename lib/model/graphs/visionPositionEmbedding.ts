/**
 * Qwen3-VL's learned absolute position embedding, bilinearly resampled to each image's grid inside the graph
 * (transformers: Qwen3VLVisionModel.fast_pos_embed_interpolate).
 *
 * The checkpoint holds `pos_embed` [side², hidden] for a side×side grid. For an image of h×w patches, transformers
 * samples the grid at torch.linspace(0, side-1, h) × torch.linspace(0, side-1, w), blends the four neighbours
 * (floor/ceil clipped to side-1) with weights (1-dh)(1-dw), (1-dh)dw, dh(1-dw), dh·dw, repeats the h×w result over t
 * and permutes it into merge-window order. Here each patch's (row, col) is already in that order (visionPatchLayout),
 * so sampling per patch yields the permuted result directly, for any grid and any number of images.
 *
 * The interpolation runs in fp32 whatever the graph's float type (the table is small) and is cast once at the end.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import type { VisionConfig } from "@/lib/model/config";
import { cast } from "@/lib/model/onnx/ops";
import type { VisionPatchLayout } from "./visionPatchLayout";

/** [N, hidden] in the graph's float type. */
export function interpolateVisionPositionEmbedding(
  g: GraphBuilder,
  layout: VisionPatchLayout,
  vision: VisionConfig,
): Value {
  const side = positionGridSide(vision.numPositionEmbeddings);
  return g.scope("pos_embed", () => {
    const y = g.scope("rows", () => linspaceAt(g, layout.row, layout.height, side - 1));
    const x = g.scope("cols", () => linspaceAt(g, layout.col, layout.width, side - 1));
    const rows = g.scope("rows", () => neighbours(g, y, side));
    const cols = g.scope("cols", () => neighbours(g, x, side));

    const sideConst = g.constInt64([side], []);
    const flat = (r: Value, c: Value, name: string) => g.op1("Add", [g.op1("Mul", [r, sideConst]), c], {}, { name });
    const indices = g.op1(
      "Concat",
      [
        unsqueeze0(g, flat(rows.floor, cols.floor, "index_ff")),
        unsqueeze0(g, flat(rows.floor, cols.ceil, "index_fc")),
        unsqueeze0(g, flat(rows.ceil, cols.floor, "index_cf")),
        unsqueeze0(g, flat(rows.ceil, cols.ceil, "index_cc")),
      ],
      { axis: 0 },
      { name: "indices" },
    ); // [4, N]
    const weight = (a: Value, b: Value, name: string) => unsqueeze0(g, g.op1("Mul", [a, b], {}, { name }));
    const weights = g.op1(
      "Concat",
      [
        weight(rows.towardFloor, cols.towardFloor, "weight_ff"),
        weight(rows.towardFloor, cols.fraction, "weight_fc"),
        weight(rows.fraction, cols.towardFloor, "weight_cf"),
        weight(rows.fraction, cols.fraction, "weight_cc"),
      ],
      { axis: 0 },
      { name: "weights" },
    ); // [4, N]

    const table = g.weight("model.visual.pos_embed.weight", { keepFloat32: true }); // [side², hidden]
    const sampled = g.op1("Gather", [table, indices], { axis: 0 }); // [4, N, hidden]
    const weighted = g.op1("Mul", [sampled, g.op1("Unsqueeze", [weights, g.constInt64([2])])]);
    const blended = g.op1("ReduceSum", [weighted, g.constInt64([0])], { keepdims: 0 }); // [N, hidden]
    return g.floatType === "float32" ? blended : cast(g, blended, g.floatType);
  });
}

/** side of the square position grid: num_position_embeddings = side². */
export function positionGridSide(numPositionEmbeddings: number): number {
  const side = Math.round(Math.sqrt(numPositionEmbeddings));
  if (side * side !== numPositionEmbeddings) {
    throw new Error(`vision num_position_embeddings ${numPositionEmbeddings} is not a square`);
  }
  return side;
}

/**
 * torch.linspace(0, end, steps)[index] in fp32, evaluated the way torch does (from the start for the first half of the
 * steps, from the end for the rest), so sample coordinates match to the last bit. [N] int64 × [N] int64 → [N] float32.
 */
function linspaceAt(g: GraphBuilder, index: Value, steps: Value, end: number): Value {
  const one = g.constInt64([1], []);
  const two = g.constInt64([2], []);
  const endConst = g.constFloat([end], [], "float32");
  const intervals = g.op1("Sub", [steps, one], {}, { name: "intervals" });
  // steps = 1 never happens for merge size ≥ 2; max(·, 1) keeps the division finite and sends index 0 to `start`.
  const step = g.op1("Div", [endConst, toFloat(g, g.op1("Max", [intervals, one]))], {}, { name: "step" });
  const fromStart = g.op1("Mul", [toFloat(g, index), step], {}, { name: "from_start" });
  const fromEnd = g.op1(
    "Sub",
    [endConst, g.op1("Mul", [step, toFloat(g, g.op1("Sub", [intervals, index]))])],
    {},
    { name: "from_end" },
  );
  const halfway = g.op1("Div", [g.op1("Max", [steps, two]), two], {}, { name: "halfway" });
  return g.op1("Where", [g.op1("Less", [index, halfway]), fromStart, fromEnd], {}, { name: "coordinate" });
}

interface Neighbours {
  /** [N] int64 floor(coordinate). */
  readonly floor: Value;
  /** [N] int64 min(floor + 1, side - 1). */
  readonly ceil: Value;
  /** [N] float32 coordinate - floor (the weight of `ceil`). */
  readonly fraction: Value;
  /** [N] float32 1 - fraction (the weight of `floor`). */
  readonly towardFloor: Value;
}

function neighbours(g: GraphBuilder, coordinate: Value, side: number): Neighbours {
  const floorFloat = g.op1("Floor", [coordinate]);
  const floor = cast(g, floorFloat, "int64", "floor");
  const ceil = g.op1(
    "Min",
    [g.op1("Add", [floor, g.constInt64([1], [])]), g.constInt64([side - 1], [])],
    {},
    { name: "ceil" },
  );
  const fraction = g.op1("Sub", [coordinate, floorFloat], {}, { name: "fraction" });
  const towardFloor = g.op1("Sub", [g.constFloat([1], [], "float32"), fraction], {}, { name: "toward_floor" });
  return { floor, ceil, fraction, towardFloor };
}

function toFloat(g: GraphBuilder, value: Value): Value {
  return cast(g, value, "float32");
}

function unsqueeze0(g: GraphBuilder, value: Value): Value {
  return g.op1("Unsqueeze", [value, g.constInt64([0])]);
}
