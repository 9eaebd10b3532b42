/**
 * Readable helpers over `g.op`, one per ONNX operator (or small composite), so graph code reads like the model code it
 * mirrors. Each takes an optional `name`, the node's last path segment (default: the op type), placed under the
 * builder's current scope: `linear(g, x, "…q_proj.weight")` inside scope `model/layers.3/attn/q_proj` yields
 * `/model/layers.3/attn/q_proj/MatMul`. Integer lists (shapes, axes, perms) become int64 constants.
 */

import {
  float,
  type Float32Part,
  type FloatType,
  type GraphBuilder,
  type TensorType,
  type Value,
} from "./graphBuilder";

type Ints = number[] | Value;

function ints(g: GraphBuilder, values: Ints): Value {
  return Array.isArray(values) ? g.constInt64(values) : values;
}

export const matMul = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("MatMul", [a, b], {}, { name });
export const add = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("Add", [a, b], {}, { name });
export const sub = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("Sub", [a, b], {}, { name });
export const mul = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("Mul", [a, b], {}, { name });
export const div = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("Div", [a, b], {}, { name });
export const pow = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("Pow", [a, b], {}, { name });
export const neg = (g: GraphBuilder, x: Value, name?: string) => g.op1("Neg", [x], {}, { name });
export const sqrt = (g: GraphBuilder, x: Value, name?: string) => g.op1("Sqrt", [x], {}, { name });
export const sin = (g: GraphBuilder, x: Value, name?: string) => g.op1("Sin", [x], {}, { name });
export const cos = (g: GraphBuilder, x: Value, name?: string) => g.op1("Cos", [x], {}, { name });
export const sigmoid = (g: GraphBuilder, x: Value, name?: string) => g.op1("Sigmoid", [x], {}, { name });
export const tanh = (g: GraphBuilder, x: Value, name?: string) => g.op1("Tanh", [x], {}, { name });
export const erf = (g: GraphBuilder, x: Value, name?: string) => g.op1("Erf", [x], {}, { name });
export const identity = (g: GraphBuilder, x: Value, name?: string) => g.op1("Identity", [x], {}, { name });
export const equal = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("Equal", [a, b], {}, { name });
export const less = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("Less", [a, b], {}, { name });
export const greater = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("Greater", [a, b], {}, { name });
export const not = (g: GraphBuilder, x: Value, name?: string) => g.op1("Not", [x], {}, { name });
export const and = (g: GraphBuilder, a: Value, b: Value, name?: string) => g.op1("And", [a, b], {}, { name });

export const where = (g: GraphBuilder, condition: Value, a: Value, b: Value, name?: string) =>
  g.op1("Where", [condition, a, b], {}, { name });

export const reshape = (g: GraphBuilder, x: Value, shape: Ints, name?: string) =>
  g.op1("Reshape", [x, ints(g, shape)], {}, { name });

export const transpose = (g: GraphBuilder, x: Value, perm: number[], name?: string) =>
  g.op1("Transpose", [x], { perm }, { name });

export const concat = (g: GraphBuilder, xs: Value[], axis: number, name?: string) =>
  g.op1("Concat", xs, { axis }, { name });

export const split = (g: GraphBuilder, x: Value, sizes: number[], axis: number, name?: string) =>
  g.op("Split", [x, g.constInt64(sizes)], { axis }, { name, outputs: sizes.length });

/**
 * Slice along `axes` (default: the first `starts.length` axes); ends may use Number.MAX_SAFE_INTEGER for "to the end".
 */
export function slice(
  g: GraphBuilder,
  x: Value,
  starts: Ints,
  ends: Ints,
  axes?: Ints,
  steps?: Ints,
  name?: string,
): Value {
  return g.op1(
    "Slice",
    [x, ints(g, starts), ints(g, ends), axes ? ints(g, axes) : null, steps ? ints(g, steps) : null],
    {},
    { name },
  );
}

export const gather = (g: GraphBuilder, data: Value, indices: Value, axis = 0, name?: string) =>
  g.op1("Gather", [data, indices], { axis }, { name });

export const unsqueeze = (g: GraphBuilder, x: Value, axes: Ints, name?: string) =>
  g.op1("Unsqueeze", [x, ints(g, axes)], {}, { name });

export const squeeze = (g: GraphBuilder, x: Value, axes: Ints, name?: string) =>
  g.op1("Squeeze", [x, ints(g, axes)], {}, { name });

export const expand = (g: GraphBuilder, x: Value, shape: Ints, name?: string) =>
  g.op1("Expand", [x, ints(g, shape)], {}, { name });

export const tile = (g: GraphBuilder, x: Value, repeats: Ints, name?: string) =>
  g.op1("Tile", [x, ints(g, repeats)], {}, { name });

const CAST_TO: Record<TensorType, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float16: 10 };

export const cast = (g: GraphBuilder, x: Value, to: TensorType, name?: string) =>
  g.op1("Cast", [x], { to: CAST_TO[to] }, { name });

/** The int64 shape of `x`, optionally only dims [start, end). */
export function shape(g: GraphBuilder, x: Value, start?: number, end?: number, name?: string): Value {
  const attrs: Record<string, number> = {};
  if (start !== undefined) attrs.start = start;
  if (end !== undefined) attrs.end = end;
  return g.op1("Shape", [x], attrs, { name });
}

export const softmax = (g: GraphBuilder, x: Value, axis = -1, name?: string) =>
  g.op1("Softmax", [x], { axis }, { name });

export const reduceSum = (g: GraphBuilder, x: Value, axes: Ints, keepdims = true, name?: string) =>
  g.op1("ReduceSum", [x, ints(g, axes)], { keepdims: keepdims ? 1 : 0 }, { name });

export const reduceMean = (g: GraphBuilder, x: Value, axes: Ints, keepdims = true, name?: string) =>
  g.op1("ReduceMean", [x, ints(g, axes)], { keepdims: keepdims ? 1 : 0 }, { name });

export const range = (g: GraphBuilder, start: Value, limit: Value, delta: Value, name?: string) =>
  g.op1("Range", [start, limit, delta], {}, { name });

export const cumSum = (g: GraphBuilder, x: Value, axis: Value, name?: string) =>
  g.op1("CumSum", [x, axis], {}, { name });

/** x · sigmoid(x), transformers' "silu". */
export function silu(g: GraphBuilder, x: Value, name = "Silu"): Value {
  return g.scope(name, () => mul(g, x, sigmoid(g, x)));
}

/** GELU with the tanh approximation, transformers' "gelu_pytorch_tanh" (ONNX Gelu-20, approximate="tanh"). */
export const geluTanh = (g: GraphBuilder, x: Value, name?: string) =>
  g.op1("Gelu", [x], { approximate: "tanh" }, { name });

/** Exact GELU (erf form), transformers' "gelu". */
export const gelu = (g: GraphBuilder, x: Value, name?: string) => g.op1("Gelu", [x], { approximate: "none" }, { name });

/** Activation by transformers' `hidden_act` name. */
export function activation(g: GraphBuilder, x: Value, hiddenAct: string): Value {
  switch (hiddenAct) {
    case "silu":
    case "swish":
      return silu(g, x);
    case "gelu_pytorch_tanh":
    case "gelu_new":
      return geluTanh(g, x);
    case "gelu":
      return gelu(g, x);
    default:
      throw new Error(`unsupported activation ${hiddenAct}`);
  }
}

/**
 * Runs `body` in the float type `part` computes in (GraphBuilder.computeType). When that is wider than the graph's,
 * `inputs` (float tensors of the graph's type) are cast up before and `body`'s results cast back after, so callers
 * see the graph's float type either way. `body` builds its constants and weights in `type`.
 */
export function computeIn(
  g: GraphBuilder,
  part: Float32Part,
  inputs: Value[],
  body: (xs: Value[], type: FloatType) => Value[],
): Value[] {
  const type = g.computeType(part);
  if (type === g.floatType) return body(inputs, type);
  return body(
    inputs.map((x) => cast(g, x, type)),
    type,
  ).map((y) => cast(g, y, g.floatType));
}

/** A small weight (norm scale, bias) stored in `type`: float32 ones cost nothing worth saving. */
export function weightIn(g: GraphBuilder, name: string, type: FloatType): Value {
  return g.weight(name, { keepFloat32: type === "float32" });
}

/**
 * RMSNorm: x / sqrt(mean(x², last axis) + eps) · weight, as transformers' Qwen3 RMSNorm. ORT registers
 * SimplifiedLayerNormalization in the default domain. Its statistics are fp32 in ORT's CPU and WebGPU kernels alike
 * (stash_type=1); the normalised value and the scale multiply follow the tensor type, hence computeIn.
 */
export function rmsNorm(
  g: GraphBuilder,
  x: Value,
  weightName: string,
  eps: number,
  name = "SimplifiedLayerNormalization",
): Value {
  return computeIn(g, "norms", [x], ([x], type) => [
    g.op1(
      "SimplifiedLayerNormalization",
      [x, weightIn(g, weightName, type)],
      { axis: -1, epsilon: float(eps), stash_type: 1 },
      { name },
    ),
  ])[0];
}

/** LayerNorm over the last axis with scale and bias (LayerNormalization-17). */
export function layerNorm(
  g: GraphBuilder,
  x: Value,
  weightName: string,
  biasName: string,
  eps: number,
  name = "LayerNormalization",
): Value {
  return computeIn(g, "norms", [x], ([x], type) => [
    g.op1(
      "LayerNormalization",
      [x, weightIn(g, weightName, type), weightIn(g, biasName, type)],
      { axis: -1, epsilon: float(eps), stash_type: 1 },
      { name },
    ),
  ])[0];
}

/**
 * A float16 weight as `type`: a Cast node when wider; the file keeps float16. ORT may fold the Cast into a float32
 * copy at session creation (on the H200, WebGPU sessions of the 2b fp16 bundle then loaded in 7.6 s instead of 3.2 s;
 * CPU decode speed did not change).
 */
export function weightAs(g: GraphBuilder, weight: Value, type: FloatType): Value {
  return type === g.floatType ? weight : cast(g, weight, type);
}

/**
 * torch.nn.Linear: x [.., in] · Wᵀ (+ b) with W stored [out, in] in the checkpoint; the transposed [in, out] copy is
 * what the graph stores, so MatMul needs no Transpose node at run time.
 */
export function linear(g: GraphBuilder, x: Value, weightName: string, biasName?: string): Value {
  return computeIn(g, "matmuls", [x], ([x], type) => {
    const y = matMul(g, x, weightAs(g, g.weight(weightName, { transpose: true }), type));
    return [biasName === undefined ? y : add(g, y, weightIn(g, biasName, type))];
  })[0];
}
