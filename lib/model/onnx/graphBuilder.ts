/**
 * A small ONNX graph DSL, in the spirit of onnxruntime-genai's model builder: graphs are written op by op, node names
 * encode their place (`/model/layers.3/attn/q_proj/MatMul`), so a graph dump can be read next to the code.
 *
 * The builder only records structure. Checkpoint weights are *references* (`weight()`), read from a WeightSource one
 * tensor at a time when the model is written (see writeModel.ts), so building a multi-GB graph costs no weight memory.
 *
 * Invariants: every node output and initializer name is unique in the graph; a checkpoint weight referenced twice
 * with the same layout becomes one initializer.
 */

export type TensorType = "float32" | "float16" | "int64" | "int32" | "bool";
export type FloatType = "float32" | "float16";
/** A number is a fixed size, a string a symbolic dimension (`"batch"`, `"sequence"`). */
export type Dim = number | string;

export interface Value {
  readonly name: string;
}

/** A float attribute whose value happens to be integral (`alpha: float(1)`); plain numbers are INT when integral. */
export interface FloatAttr {
  readonly kind: "float";
  readonly value: number;
}
export interface FloatsAttr {
  readonly kind: "floats";
  readonly value: number[];
}
export interface TensorAttr {
  readonly kind: "tensor";
  readonly type: TensorType;
  readonly dims: number[];
  readonly values: TensorValues;
}
/**
 * Attribute values: an integral number → INT, a fractional one → FLOAT, number[] → INTS (FLOATS when any element is
 * fractional), string → STRING, string[] → STRINGS; `float()`/`floats()` force FLOAT(S) for integral values.
 */
export type AttrValue = number | string | number[] | string[] | FloatAttr | FloatsAttr | TensorAttr;

export function float(value: number): FloatAttr {
  return { kind: "float", value };
}
export function floats(value: number[]): FloatsAttr {
  return { kind: "floats", value };
}

/**
 * Parts of a float16 graph that compute in float32: their float16 inputs are cast up, their results cast back, and
 * their small weights (norm scales) stored as float32; large weights stay float16 and are cast where used. Why: ORT's
 * CPU kernels widen float16 to float32 inside (accumulators, softmax sums), while its WebGPU kernels compute the
 * same ops in f16, so a float16 bundle otherwise computes a different function on each provider. Float32 graphs
 * ignore this.
 * - norms: RMSNorm / LayerNorm (statistics, scale multiply, the fused residual add);
 * - attention: GroupQueryAttention / MultiHeadAttention / the plain attention (scores, softmax, weighted values);
 * - matmuls: Linear projections, lm_head and the patch embedding.
 */
export interface Float32Compute {
  readonly norms: boolean;
  readonly attention: boolean;
  readonly matmuls: boolean;
}
export type Float32Part = keyof Float32Compute;

/**
 * What bundles use: matmuls only. Measured on an H200 (2b preset, scripts/gpu/precision.ts): WebGPU's MatMul
 * accumulates float16 in f16, and widening it cut the decoder's largest logit difference from the CPU from 20.9 to
 * 1.7 at no CPU cost; widening norms changed nothing (both providers' norm kernels keep fp32 statistics). Widening
 * attention is not usable yet: ORT's WebGPU GroupQueryAttention then reuses the cast-up past's buffer for its present
 * output and fails ("Shape mismatch attempting to re-use buffer"), and it would cast the whole KV cache every step.
 */
export const DEFAULT_FLOAT32_COMPUTE: Float32Compute = { norms: false, attention: false, matmuls: true };

export type TensorValues = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface NodeSpec {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** "" marks an omitted optional input. */
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attrs: Record<string, AttrValue>;
}

export interface IoSpec {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: Dim[];
}

export interface WeightOptions {
  name?: string;
  transpose?: boolean;
  reshape?: number[];
  keepFloat32?: boolean;
}

/** An initializer read from the checkpoint at write time. `type` is the stored ONNX element type. */
export interface WeightInitializer {
  readonly kind: "weight";
  readonly name: string;
  readonly sourceName: string;
  readonly type: FloatType;
  readonly transpose: boolean;
  readonly reshape: number[] | null;
}

/** An initializer whose values the converter computed (inv_freq, constants). Float values are stored as `type`. */
export interface ComputedInitializer {
  readonly kind: "computed";
  readonly name: string;
  readonly type: TensorType;
  readonly dims: number[];
  readonly values: TensorValues;
}

export type InitializerSpec = WeightInitializer | ComputedInitializer;

export interface GraphParts {
  readonly name: string;
  readonly floatType: FloatType;
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly initializers: readonly InitializerSpec[];
  /** Domains used by nodes other than the default one (e.g. `com.microsoft`). */
  readonly domains: ReadonlySet<string>;
}

export class GraphBuilder {
  readonly name: string;
  readonly floatType: FloatType;
  readonly float32Compute: Float32Compute;

  private readonly inputs: IoSpec[] = [];
  private readonly outputs: IoSpec[] = [];
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers = new Map<string, InitializerSpec>();
  /** Layout key (source, transpose, reshape, dtype) → initializer name, so shared weights are stored once. */
  private readonly weightByLayout = new Map<string, string>();
  private readonly constByContent = new Map<string, string>();
  private readonly usedNames = new Set<string>();
  private readonly domains = new Set<string>();
  private readonly scopes: string[] = [];

  constructor(opts: { name: string; floatType: FloatType; float32Compute?: Float32Compute }) {
    this.name = opts.name;
    this.floatType = opts.floatType;
    this.float32Compute = opts.float32Compute ?? DEFAULT_FLOAT32_COMPUTE;
  }

  /** The float type `part` computes in: float32 when this float16 graph widens it, else the graph's float type. */
  computeType(part: Float32Part): FloatType {
    return this.floatType === "float16" && this.float32Compute[part] ? "float32" : this.floatType;
  }

  input(name: string, type: TensorType, dims: Dim[]): Value {
    this.claim(name);
    this.inputs.push({ name, type, dims: [...dims] });
    return { name };
  }

  /** Declares `value` as graph output `name`; an Identity node renames it when the names differ. */
  output(value: Value, name: string, type: TensorType, dims: Dim[]): void {
    if (value.name !== name) {
      this.claim(name);
      this.nodes.push({
        name: `${this.prefix()}/output/${name}/Identity`,
        opType: "Identity",
        domain: "",
        inputs: [value.name],
        outputs: [name],
        attrs: {},
      });
    }
    this.outputs.push({ name, type, dims: [...dims] });
  }

  weight(sourceName: string, opts: WeightOptions = {}): Value {
    const transpose = opts.transpose ?? false;
    const reshape = opts.reshape ? [...opts.reshape] : null;
    const type: FloatType = opts.keepFloat32 ? "float32" : this.floatType;
    const layoutKey = JSON.stringify([sourceName, transpose, reshape, type]);
    const existing = this.weightByLayout.get(layoutKey);
    if (existing !== undefined && (opts.name === undefined || opts.name === existing)) return { name: existing };

    const name = opts.name ?? weightName(sourceName, transpose, reshape, type !== this.floatType);
    this.claim(name);
    this.initializers.set(name, { kind: "weight", name, sourceName, type, transpose, reshape });
    this.weightByLayout.set(layoutKey, name);
    return { name };
  }

  tensor(name: string, type: TensorType, dims: number[], values: TensorValues): Value {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) {
      throw new Error(`tensor ${name}: ${values.length} values do not fill dims [${dims.join(", ")}]`);
    }
    checkValuesMatchType(name, type, values);
    this.claim(name);
    this.initializers.set(name, { kind: "computed", name, type, dims: [...dims], values });
    return { name };
  }

  constInt64(values: number[], dims: number[] = [values.length]): Value {
    return this.constant(
      "int64",
      dims,
      BigInt64Array.from(values, (v) => BigInt(v)),
      values,
    );
  }

  constFloat(values: number[], dims: number[] = [values.length], type: FloatType = this.floatType): Value {
    return this.constant(type, dims, Float32Array.from(values), values);
  }

  op(
    opType: string,
    inputs: (Value | null)[],
    attrs: Record<string, AttrValue> = {},
    opts: { domain?: string; outputs?: number; name?: string } = {},
  ): Value[] {
    const domain = opts.domain ?? "";
    const nodeName = this.uniqueNodeName(`${this.prefix()}/${opts.name ?? opType}`);
    const outputCount = opts.outputs ?? 1;
    const outputs: string[] = [];
    for (let i = 0; i < outputCount; i++) {
      const outputName = `${nodeName}/output_${i}`;
      this.claim(outputName);
      outputs.push(outputName);
    }
    if (domain !== "") this.domains.add(domain);
    this.nodes.push({
      name: nodeName,
      opType,
      domain,
      inputs: inputs.map((v) => v?.name ?? ""),
      outputs,
      attrs: { ...attrs },
    });
    return outputs.map((name) => ({ name }));
  }

  op1(
    opType: string,
    inputs: (Value | null)[],
    attrs: Record<string, AttrValue> = {},
    opts: { domain?: string; outputs?: number; name?: string } = {},
  ): Value {
    return this.op(opType, inputs, attrs, opts)[0];
  }

  /** Runs `fn` with `name` (e.g. `"model"`, `"layers.3"`, or `"model/layers.3"`) appended to the node-name prefix. */
  scope<T>(name: string, fn: () => T): T {
    const parts = name.split("/").filter((p) => p !== "");
    this.scopes.push(...parts);
    try {
      return fn();
    } finally {
      this.scopes.length -= parts.length;
    }
  }

  /** The recorded graph, for writeModel and for tests that inspect structure. */
  parts(): GraphParts {
    return {
      name: this.name,
      floatType: this.floatType,
      inputs: this.inputs,
      outputs: this.outputs,
      nodes: this.nodes,
      initializers: [...this.initializers.values()],
      domains: this.domains,
    };
  }

  private constant(type: TensorType, dims: number[], values: TensorValues, key: number[]): Value {
    const contentKey = JSON.stringify([type, dims, key]);
    const existing = this.constByContent.get(contentKey);
    if (existing !== undefined) return { name: existing };
    const name = `/const/${type}_${this.constByContent.size}`;
    this.constByContent.set(contentKey, name);
    return this.tensor(name, type, dims, values);
  }

  private prefix(): string {
    return this.scopes.length === 0 ? "" : `/${this.scopes.join("/")}`;
  }

  private uniqueNodeName(base: string): string {
    if (!this.usedNames.has(`${base}/output_0`) && !this.usedNames.has(base)) {
      this.usedNames.add(base);
      return base;
    }
    for (let i = 1; ; i++) {
      const candidate = `${base}_${i}`;
      if (!this.usedNames.has(candidate) && !this.usedNames.has(`${candidate}/output_0`)) {
        this.usedNames.add(candidate);
        return candidate;
      }
    }
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`graph ${this.name}: name "${name}" is already used`);
    this.usedNames.add(name);
  }
}

function weightName(sourceName: string, transpose: boolean, reshape: number[] | null, keptFloat32: boolean): string {
  let name = sourceName;
  if (transpose) name += ".T";
  if (reshape) name += `.reshape_${reshape.join("x")}`;
  if (keptFloat32) name += ".f32";
  return name;
}

function checkValuesMatchType(name: string, type: TensorType, values: TensorValues): void {
  const ok =
    ((type === "float32" || type === "float16") && values instanceof Float32Array) ||
    (type === "int64" && values instanceof BigInt64Array) ||
    (type === "int32" && values instanceof Int32Array) ||
    (type === "bool" && values instanceof Uint8Array);
  if (!ok) throw new Error(`tensor ${name}: ${values.constructor.name} cannot hold ${type} values`);
}
