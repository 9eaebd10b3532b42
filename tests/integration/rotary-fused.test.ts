import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRotary, buildRotaryTables } from "@/lib/model/graphs/decoderRotary";
import { ROTARY_KINDS, type RotaryKind } from "@/lib/model/graphs/rotaryEmbedding";
import { buildVisionPatchLayout } from "@/lib/model/graphs/visionPatchLayout";
import { applyVisionRotary, buildVisionRotary } from "@/lib/model/graphs/visionRotary";
import { fromFloat16Array, toFloat16Array } from "@/lib/model/onnx/float16";
import { GraphBuilder, type FloatType } from "@/lib/model/onnx/graphBuilder";
import { writeModel } from "@/lib/model/onnx/writeModel";
import { NO_WEIGHTS } from "@/lib/model/checkpoint/weightSource";
import { createRng } from "@/lib/model/sampling/prng";

/**
 * ORT's fused RotaryEmbedding (rotaryEmbedding.ts) against the plain ops it replaces, each form in a graph of its own
 * run by a real onnxruntime-node CPU session on the same inputs: the decoder's M-RoPE on a batch of two with distinct
 * temporal/height/width positions, and the vision tower's 2-D rotary over two images. Both forms compute
 * x·cos ± x_j·sin from the same fp32 tables, so they may differ only by the rounding of that sum: ≤ 1e-6 of the largest
 * |value| in fp32 (measured ≈ 1e-7), one fp16 ulp per element in fp16 (measured: identical).
 */

const rng = createRng(5);
const randomValues = (count: number) => Float32Array.from({ length: count }, () => rng.nextFloat() * 4 - 2);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vlcache-rotary-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function floatTensor(type: FloatType, values: Float32Array, dims: number[]): ort.Tensor {
  return type === "float32" ? new ort.Tensor(type, values, dims) : new ort.Tensor(type, toFloat16Array(values), dims);
}

function floats(t: ort.Tensor): Float32Array {
  return t.type === "float16" ? fromFloat16Array(t.data as Uint16Array) : (t.data as Float32Array);
}

/** Largest |fused − plain| over the largest |plain|. */
function relativeDiff(plain: Float32Array, fused: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < plain.length; i++) {
    diff = Math.max(diff, Math.abs(plain[i] - fused[i]));
    scale = Math.max(scale, Math.abs(plain[i]));
  }
  return diff / scale;
}

/** One fp16 ulp at magnitude |v|: 2^(floor(log2|v|) − 10). */
const fp16Ulp = (v: number) => 2 ** (Math.floor(Math.log2(Math.abs(v))) - 10);

function expectClose(type: FloatType, plain: Float32Array, fused: Float32Array): void {
  expect(fused).toHaveLength(plain.length);
  if (type === "float32") {
    expect(relativeDiff(plain, fused)).toBeLessThanOrEqual(1e-6);
    return;
  }
  for (let i = 0; i < plain.length; i++) {
    expect(Math.abs(plain[i] - fused[i]), `element ${i}`).toBeLessThanOrEqual(fp16Ulp(plain[i]));
  }
}

/** Builds the graph `body` makes for each kind, runs it on `feeds` in a CPU session, and returns each kind's output. */
async function runBothKinds(
  name: string,
  type: FloatType,
  body: (g: GraphBuilder, kind: RotaryKind) => void,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<RotaryKind, Float32Array>> {
  const out = {} as Record<RotaryKind, Float32Array>;
  for (const kind of ROTARY_KINDS) {
    const g = new GraphBuilder({ name, floatType: type });
    body(g, kind);
    const file = path.join(dir, `${name}-${type}-${kind}.onnx`);
    await writeModel(g, file, NO_WEIGHTS);
    const s = await ort.InferenceSession.create(file, { executionProviders: ["cpu"] });
    out[kind] = floats((await s.run(feeds)).y);
    await s.release();
  }
  return out;
}

describe.each<FloatType>(["float32", "float16"])("fused rotary (%s)", (type) => {
  it("rotates the decoder's q [B, S, N, D] as the plain M-RoPE ops do", async () => {
    const [batch, seq, heads, headDim] = [2, 5, 3, 16];
    // Row 0: an image's t/h/w positions after text; row 1: text far along (positions equal across t/h/w).
    const t = [3, 3, 3, 3, 7, 1000, 1001, 1002, 1003, 1004];
    const h = [3, 3, 4, 4, 7, 1000, 1001, 1002, 1003, 1004];
    const w = [3, 4, 3, 4, 7, 1000, 1001, 1002, 1003, 1004];
    const out = await runBothKinds(
      "decoder_rotary",
      type,
      (g, kind) => {
        const x = g.input("x", type, ["batch", "seq", heads, headDim]);
        const positionIds = g.input("position_ids", "int64", [3, "batch", "seq"]);
        const tables = buildRotaryTables(g, kind, positionIds, {
          headDim,
          theta: 5_000_000,
          mropeSection: [4, 2, 2],
          interleaved: true,
        });
        g.output(applyRotary(g, x, tables, headDim), "y", type, ["batch", "seq", heads, headDim]);
      },
      {
        x: floatTensor(type, randomValues(batch * seq * heads * headDim), [batch, seq, heads, headDim]),
        position_ids: new ort.Tensor("int64", BigInt64Array.from([...t, ...h, ...w], BigInt), [3, batch, seq]),
      },
    );
    expectClose(type, out.plain, out.fused);
  });

  it("rotates the vision tower's q [N, heads, head_dim] as the plain 2-D rotary ops do", async () => {
    const [heads, headDim] = [2, 16];
    const grids = [1, 4, 6, 2, 2, 2];
    const patches = 4 * 6 + 2 * 2 * 2;
    const out = await runBothKinds(
      "vision_rotary",
      type,
      (g, kind) => {
        const x = g.input("x", type, ["patches", heads, headDim]);
        const layout = buildVisionPatchLayout(g, g.input("image_grid_thw", "int64", ["images", 3]), 2);
        const rotary = buildVisionRotary(g, kind, layout, heads, headDim);
        g.output(applyVisionRotary(g, x, rotary, "q_rotary"), "y", type, ["patches", heads, headDim]);
      },
      {
        x: floatTensor(type, randomValues(patches * heads * headDim), [patches, heads, headDim]),
        image_grid_thw: new ort.Tensor("int64", BigInt64Array.from(grids, BigInt), [2, 3]),
      },
    );
    expectClose(type, out.plain, out.fused);
  });
});
