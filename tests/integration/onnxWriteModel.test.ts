import { mkdtemp, rm, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import { writeSafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensorsWriter";
import { GraphBuilder, type FloatType } from "@/lib/model/onnx/graphBuilder";
import { fromFloat16Array, toFloat16Array } from "@/lib/model/onnx/float16";
import { geluTanh, linear, mul, rmsNorm } from "@/lib/model/onnx/ops";
import { writeModel } from "@/lib/model/onnx/writeModel";

/**
 * A small model end to end: weights in a BF16 safetensors file → GraphBuilder (MatMul + Add + RMSNorm + Gelu, a
 * symbolic batch dim) → writeModel (inline, external data, fp16) → onnxruntime-node, compared with the same math in JS.
 */

const IN = 32;
const OUT = 64;
const EPS = 1e-6;

/** Values on a 1/64 grid within ±2 are exact in bf16, so the checkpoint stores them losslessly. */
function gridValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (((i * 37 + seed * 101) % 255) - 127) / 64;
  return out;
}

const weights: Record<string, { shape: number[]; values: Float32Array }> = {
  "proj.weight": { shape: [OUT, IN], values: gridValues(OUT * IN, 1).map((v) => v / 8) },
  "proj.bias": { shape: [OUT], values: gridValues(OUT, 2) },
  "norm.weight": { shape: [OUT], values: gridValues(OUT, 3).map((v) => 1 + Math.round(v * 8) / 32) },
};

function buildGraph(floatType: FloatType): GraphBuilder {
  const g = new GraphBuilder({ name: "test", floatType });
  const x = g.input("x", floatType, ["batch", IN]);
  const { normed, gelu } = g.scope("model/proj", () => {
    const y = linear(g, x, "proj.weight", "proj.bias");
    return { normed: rmsNorm(g, y, "norm.weight", EPS), gelu: mul(g, geluTanh(g, y), g.constFloat([2])) };
  });
  g.output(normed, "normed", floatType, ["batch", OUT]);
  g.output(gelu, "gelu_x2", floatType, ["batch", OUT]);
  return g;
}

/** The reference in float64: y = x Wᵀ + b; normed = y / rms(y) · n; gelu_x2 = 2 · gelu_tanh(y). */
function reference(x: Float32Array, batch: number): { normed: Float64Array; gelu: Float64Array } {
  const w = weights["proj.weight"].values;
  const b = weights["proj.bias"].values;
  const n = weights["norm.weight"].values;
  const normed = new Float64Array(batch * OUT);
  const gelu = new Float64Array(batch * OUT);
  for (let r = 0; r < batch; r++) {
    const y = new Float64Array(OUT);
    for (let o = 0; o < OUT; o++) {
      let acc = b[o];
      for (let i = 0; i < IN; i++) acc += x[r * IN + i] * w[o * IN + i];
      y[o] = acc;
    }
    const rms = Math.sqrt(y.reduce((s, v) => s + v * v, 0) / OUT + EPS);
    for (let o = 0; o < OUT; o++) {
      normed[r * OUT + o] = (y[o] / rms) * n[o];
      const v = y[o];
      gelu[r * OUT + o] = 2 * 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    }
  }
  return { normed, gelu };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

let dir: string;
let checkpoint: SafetensorsCheckpoint;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vlcache-onnx-"));
  const entries = Object.entries(weights).map(([name, t]) => ({ name, shape: t.shape }));
  await writeSafetensorsCheckpoint(dir, entries, (name) => weights[name].values, { dtype: "BF16" });
  checkpoint = await SafetensorsCheckpoint.open(dir);
});

afterAll(async () => {
  await checkpoint.close();
  await rm(dir, { recursive: true, force: true });
});

async function runModel(modelPath: string, floatType: FloatType, x: Float32Array, batch: number) {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const input =
      floatType === "float16"
        ? new ort.Tensor("float16", toFloat16Array(x), [batch, IN])
        : new ort.Tensor("float32", x, [batch, IN]);
    const out = await session.run({ x: input });
    const read = (t: ort.Tensor) =>
      floatType === "float16" ? fromFloat16Array(t.data as Uint16Array) : (t.data as Float32Array);
    expect(out.normed.dims).toEqual([batch, OUT]);
    return { normed: read(out.normed), gelu: read(out.gelu_x2) };
  } finally {
    await session.release();
  }
}

describe("writeModel → onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`float32 inline weights, batch ${batch}`, async () => {
      const modelPath = path.join(dir, `inline-${batch}.onnx`);
      const result = await writeModel(buildGraph("float32"), modelPath, checkpoint);
      expect(result.externalData).toBe(false);
      expect(existsSync(`${modelPath}_data`)).toBe(false);
      expect(result.bytes).toBe((await stat(modelPath)).size);

      const x = gridValues(batch * IN, 7 + batch);
      const got = await runModel(modelPath, "float32", x, batch);
      const want = reference(x, batch);
      expect(maxAbsDiff(got.normed, want.normed)).toBeLessThan(1e-5);
      expect(maxAbsDiff(got.gelu, want.gelu)).toBeLessThan(1e-5);
    });
  }

  it("float32 with external data forced", async () => {
    const modelPath = path.join(dir, "external.onnx");
    const progress: number[] = [];
    const result = await writeModel(buildGraph("float32"), modelPath, checkpoint, {
      externalDataThresholdBytes: 0,
      onProgress: (done, total) => {
        expect(total).toBe((OUT * IN + OUT + OUT) * 4 + 4);
        progress.push(done);
      },
    });
    expect(result.externalData).toBe(true);
    // Only the 8 KiB projection weight crosses the 1 KiB external threshold; it starts at offset 0.
    expect((await stat(`${modelPath}_data`)).size).toBe(OUT * IN * 4);
    expect((await stat(modelPath)).size).toBeLessThan(4096);
    expect(progress[progress.length - 1]).toBe((OUT * IN + OUT + OUT) * 4 + 4);

    const x = gridValues(2 * IN, 11);
    const got = await runModel(modelPath, "float32", x, 2);
    const want = reference(x, 2);
    expect(maxAbsDiff(got.normed, want.normed)).toBeLessThan(1e-5);
    expect(maxAbsDiff(got.gelu, want.gelu)).toBeLessThan(1e-5);
  });

  it("float16 weights and activations", async () => {
    const modelPath = path.join(dir, "fp16.onnx");
    const result = await writeModel(buildGraph("float16"), modelPath, checkpoint);
    expect(result.externalData).toBe(false);
    // Every float initializer is stored as 2-byte halves.
    expect(result.bytes).toBeLessThan((OUT * IN + 2 * OUT) * 2 + 4096);

    const x = gridValues(2 * IN, 13);
    const got = await runModel(modelPath, "float16", x, 2);
    const want = reference(x, 2);
    // Halves carry ~3 decimal digits; outputs here are O(1).
    expect(maxAbsDiff(got.normed, want.normed)).toBeLessThan(2e-2);
    expect(maxAbsDiff(got.gelu, want.gelu)).toBeLessThan(2e-2);
  });
});
