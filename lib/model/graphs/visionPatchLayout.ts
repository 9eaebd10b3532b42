/**
 * Where each patch of `pixel_values` sits, computed inside the vision graph from `image_grid_thw` alone, so one graph
 * serves every grid and any number of images per call (the stock torch.onnx export bakes the traced grid in).
 *
 * Patch order (Qwen2-VL image processor, mirrored by transformers' rot_pos_emb and fast_pos_embed_interpolate):
 * images one after another; inside an image, frames t = 0..T-1; inside a frame, merge windows (m×m patches) in
 * row-major window order; inside a window, its m×m patches row-major. So patch q of a frame (q counted from the frame's
 * first patch) with frame width w sits at
 *   window = q div m², inWindow = q mod m², windowsPerRow = w / m,
 *   row = (window div windowsPerRow)·m + inWindow div m,   col = (window mod windowsPerRow)·m + inWindow mod m.
 *
 * Per-patch outputs are [N] int64 (N = Σ t·h·w patches), per-frame ones [F] int64 (F = Σ t). The frame index is global
 * over the call: transformers' attention runs over cu_seqlens chunks of h·w patches, one per frame, so the frame (not
 * the image) is the attention segment.
 */

import type { GraphBuilder, Value } from "@/lib/model/onnx/graphBuilder";
import { cast } from "@/lib/model/onnx/ops";

export interface VisionPatchLayout {
  /** [N] global frame index: the attention segment of each patch. */
  readonly frame: Value;
  /** [N] position of the patch inside its frame (0 ≤ inFrame < frameLength[frame]). */
  readonly inFrame: Value;
  /** [F] patches per frame (h·w of the frame's image). */
  readonly frameLength: Value;
  /** [F] index of each frame's first patch. */
  readonly frameStart: Value;
  /** Scalar F. */
  readonly totalFrames: Value;
  /** [N] patch row inside its frame's h×w grid. */
  readonly row: Value;
  /** [N] patch column inside its frame's h×w grid. */
  readonly col: Value;
  /** [N] grid height h of the patch's image. */
  readonly height: Value;
  /** [N] grid width w of the patch's image. */
  readonly width: Value;
}

export function buildVisionPatchLayout(g: GraphBuilder, gridThw: Value, mergeSize: number): VisionPatchLayout {
  return g.scope("patch_layout", () => {
    const zero = g.constInt64([0], []);
    const one = g.constInt64([1], []);
    const column = (index: number, name: string): Value =>
      g.op1("Gather", [gridThw, g.constInt64([index], [])], { axis: 1 }, { name: `${name}/Gather` });
    const framesPerImage = column(0, "t"); // [I]
    const heightPerImage = column(1, "h"); // [I]
    const widthPerImage = column(2, "w"); // [I]

    // Frame f belongs to the image whose cumulative frame count first exceeds f.
    const frameEndsPerImage = g.op1("CumSum", [framesPerImage, zero]); // [I] inclusive
    const totalFrames = g.op1("ReduceSum", [framesPerImage], { keepdims: 0 }, { name: "total_frames" });
    const frames = g.op1("Range", [zero, totalFrames, one], {}, { name: "frames" }); // [F]
    const frameImage = countBoundariesPassed(g, frameEndsPerImage, frames, "frame_image"); // [F]

    // Each frame is h·w patches of its image; frames follow each other in pixel_values.
    const patchesPerImageFrame = g.op1("Mul", [heightPerImage, widthPerImage]); // [I]
    const frameLength = g.op1("Gather", [patchesPerImageFrame, frameImage], { axis: 0 }, { name: "frame_length" });
    const frameEnd = g.op1("CumSum", [frameLength, zero], {}, { name: "frame_end" }); // [F] inclusive
    const frameStart = g.op1("Sub", [frameEnd, frameLength], {}, { name: "frame_start" });
    const totalPatches = g.op1("ReduceSum", [frameLength], { keepdims: 0 }, { name: "total_patches" });
    const patches = g.op1("Range", [zero, totalPatches, one], {}, { name: "patches" }); // [N]
    const frame = countBoundariesPassed(g, frameEnd, patches, "patch_frame"); // [N]

    const image = g.op1("Gather", [frameImage, frame], { axis: 0 }, { name: "patch_image" });
    const height = g.op1("Gather", [heightPerImage, image], { axis: 0 }, { name: "patch_height" });
    const width = g.op1("Gather", [widthPerImage, image], { axis: 0 }, { name: "patch_width" });
    const inFrame = g.op1(
      "Sub",
      [patches, g.op1("Gather", [frameStart, frame], { axis: 0 })],
      {},
      { name: "in_frame" },
    );

    const m = g.constInt64([mergeSize], []);
    const windowArea = g.constInt64([mergeSize * mergeSize], []);
    const window = g.op1("Div", [inFrame, windowArea], {}, { name: "window" });
    const inWindow = g.op1("Mod", [inFrame, windowArea], {}, { name: "in_window" });
    const windowsPerRow = g.op1("Div", [width, m], {}, { name: "windows_per_row" });
    const windowRow = g.op1("Div", [window, windowsPerRow], {}, { name: "window_row" });
    const windowCol = g.op1("Mod", [window, windowsPerRow], {}, { name: "window_col" });
    const row = g.op1("Add", [g.op1("Mul", [windowRow, m]), g.op1("Div", [inWindow, m])], {}, { name: "row" });
    const col = g.op1("Add", [g.op1("Mul", [windowCol, m]), g.op1("Mod", [inWindow, m])], {}, { name: "col" });
    return { frame, inFrame, frameLength, frameStart, totalFrames, row, col, height, width };
  });
}

/**
 * For each query q: how many of the inclusive, ascending segment ends lie at or below q — i.e. the index of the
 * segment q falls in. [K] ends × [Q] queries → [Q] int64. O(K·Q) work, tiny next to attention (K = images or frames).
 */
function countBoundariesPassed(g: GraphBuilder, ends: Value, queries: Value, name: string): Value {
  return g.scope(name, () => {
    const endsRow = g.op1("Unsqueeze", [ends, g.constInt64([0])]); // [1, K]
    const queriesColumn = g.op1("Unsqueeze", [queries, g.constInt64([1])]); // [Q, 1]
    const passed = cast(g, g.op1("LessOrEqual", [endsRow, queriesColumn]), "int64"); // [Q, K]
    return g.op1("ReduceSum", [passed, g.constInt64([1])], { keepdims: 0 }); // [Q]
  });
}
