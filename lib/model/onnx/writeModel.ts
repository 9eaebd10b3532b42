/**
 * Serialises a GraphBuilder to an ONNX file without ever holding all weights in memory.
 *
 * Protobuf needs every length up front, and an initializer's encoded length follows from its dims and dtype alone.
 * So the writer first sizes everything from shapes, writes the ModelProto header and the graph's structure, then
 * streams the initializers one by one (read → transpose/convert → write → drop). Weights totalling under
 * `externalDataThresholdBytes` (default just under protobuf's 2 GiB limit) are written inline; otherwise every
 * initializer of at least 1 KiB goes to `<file>_data` (e.g. `decoder_model_merged.onnx_data`) at 4 KiB-aligned
 * offsets, referenced by `external_data` {location, offset, length} entries as ONNX specifies.
 */

import { open, rm, type FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import path from "node:path";
import onnxProto, { type onnx as OnnxTypes } from "onnx-proto";
import { elementCount, type WeightSource } from "@/lib/model/checkpoint/weightSource";
import { writeAll } from "./fileWrites";
import { float32ToFloat16Bits } from "./float16";
import type { AttrValue, GraphBuilder, InitializerSpec, IoSpec, NodeSpec, TensorType } from "./graphBuilder";

export const OPSET_VERSION = 21;
export const MS_OPSET_VERSION = 1;
/** ONNX IR version that introduced opset 21. */
const IR_VERSION = 10;
/** onnx-proto is CommonJS; a default import works under both Node's ESM loader and bundlers. */
const { onnx } = onnxProto;
/** Protobuf messages cannot exceed 2 GiB; keep headroom for the graph structure itself. */
export const DEFAULT_EXTERNAL_DATA_THRESHOLD = 2 ** 31 - 64 * 1024 * 1024;
const EXTERNAL_MIN_BYTES = 1024;
const EXTERNAL_ALIGNMENT = 4096;

export interface WriteModelOptions {
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Weights totalling at least this many bytes go to external data (tests lower it to force that path). */
  externalDataThresholdBytes?: number;
}

export interface WriteModelResult {
  /** Bytes written, .onnx and external data together. */
  bytes: number;
  externalData: boolean;
}

const ONNX_DTYPE: Record<TensorType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};
const BYTES: Record<TensorType, number> = { float32: 4, float16: 2, int64: 8, int32: 4, bool: 1 };

/** Field tags (field number << 3 | wire type 2) of the length-delimited fields the writer emits by hand. */
const TAG_MODEL_GRAPH = (7 << 3) | 2;
const TAG_GRAPH_INITIALIZER = (5 << 3) | 2;
const TAG_TENSOR_RAW_DATA = (9 << 3) | 2;

interface PlannedInitializer {
  readonly spec: InitializerSpec;
  readonly dims: number[];
  readonly byteLength: number;
  /** Offset in the external data file, or null when the bytes are inline. */
  readonly externalOffset: number | null;
  /** The TensorProto without its data: name, dims, data_type (+ external_data entries). */
  readonly metadata: Uint8Array;
}

export async function writeModel(
  g: GraphBuilder,
  filePath: string,
  weights: WeightSource,
  opts: WriteModelOptions = {},
): Promise<WriteModelResult> {
  if (endianness() !== "LE")
    throw new Error("writeModel assumes a little-endian host (ONNX raw_data is little-endian)");
  const parts = g.parts();
  const sized = parts.initializers.map((spec) => ({ spec, dims: initializerDims(spec, weights) }));
  const withBytes = sized.map((s) => ({ ...s, byteLength: elementCount(s.dims) * BYTES[s.spec.type] }));
  const totalBytes = withBytes.reduce((sum, s) => sum + s.byteLength, 0);
  const external = totalBytes >= (opts.externalDataThresholdBytes ?? DEFAULT_EXTERNAL_DATA_THRESHOLD);
  const dataFileName = `${path.basename(filePath)}_data`;

  let externalCursor = 0;
  const plan: PlannedInitializer[] = withBytes.map(({ spec, dims, byteLength }) => {
    let externalOffset: number | null = null;
    const proto: OnnxTypes.ITensorProto = { name: spec.name, dims, dataType: ONNX_DTYPE[spec.type] };
    if (external && byteLength >= EXTERNAL_MIN_BYTES) {
      externalCursor = alignUp(externalCursor, EXTERNAL_ALIGNMENT);
      externalOffset = externalCursor;
      externalCursor += byteLength;
      proto.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      proto.externalData = [
        { key: "location", value: dataFileName },
        { key: "offset", value: String(externalOffset) },
        { key: "length", value: String(byteLength) },
      ];
    }
    return { spec, dims, byteLength, externalOffset, metadata: onnx.TensorProto.encode(proto).finish() };
  });

  const header = onnx.ModelProto.encode({
    irVersion: IR_VERSION,
    producerName: "vlcache",
    opsetImport: [
      { domain: "", version: OPSET_VERSION },
      ...[...parts.domains].map((domain) => ({ domain, version: domain === "com.microsoft" ? MS_OPSET_VERSION : 1 })),
    ],
  }).finish();
  const structure = onnx.GraphProto.encode({
    name: parts.name,
    node: parts.nodes.map(nodeProto),
    input: parts.inputs.map(valueInfo),
    output: parts.outputs.map(valueInfo),
  }).finish();

  const initializerFieldLength = (p: PlannedInitializer): number => {
    const tensorLength = tensorProtoLength(p);
    return 1 + varintLength(tensorLength) + tensorLength;
  };
  const graphLength = structure.length + plan.reduce((sum, p) => sum + initializerFieldLength(p), 0);

  const dataPath = path.join(path.dirname(filePath), dataFileName);
  await rm(dataPath, { force: true });
  const modelFile = await open(filePath, "w");
  const dataFile = external ? await open(dataPath, "w") : null;
  let done = 0;
  let modelBytes = 0;
  const writeModelBytes = async (bytes: Uint8Array) => {
    await writeAll(modelFile, bytes);
    modelBytes += bytes.byteLength;
  };
  try {
    opts.onProgress?.(0, totalBytes);
    await writeModelBytes(header);
    await writeModelBytes(concatBytes([Uint8Array.of(TAG_MODEL_GRAPH), encodeVarint(graphLength)]));
    await writeModelBytes(structure);
    for (const p of plan) {
      const tensorLength = tensorProtoLength(p);
      await writeModelBytes(
        concatBytes([Uint8Array.of(TAG_GRAPH_INITIALIZER), encodeVarint(tensorLength), p.metadata]),
      );
      const data = await initializerBytes(p, weights);
      if (p.externalOffset === null) {
        await writeModelBytes(concatBytes([Uint8Array.of(TAG_TENSOR_RAW_DATA), encodeVarint(p.byteLength)]));
        await writeModelBytes(data);
      } else {
        await writeAll(dataFile as FileHandle, data, p.externalOffset);
      }
      done += p.byteLength;
      opts.onProgress?.(done, totalBytes);
    }
  } finally {
    await modelFile.close();
    await dataFile?.close();
  }
  return { bytes: modelBytes + (external ? externalCursor : 0), externalData: external };
}

function tensorProtoLength(p: PlannedInitializer): number {
  return p.metadata.length + (p.externalOffset === null ? 1 + varintLength(p.byteLength) + p.byteLength : 0);
}

function initializerDims(spec: InitializerSpec, weights: WeightSource): number[] {
  if (spec.kind === "computed") return spec.dims;
  const stored = weights.shape(spec.sourceName);
  let dims = stored;
  if (spec.transpose) {
    if (stored.length !== 2)
      throw new Error(`weight ${spec.sourceName}: transpose needs a 2-D tensor, got [${stored.join(", ")}]`);
    dims = [stored[1], stored[0]];
  }
  if (spec.reshape) {
    if (elementCount(spec.reshape) !== elementCount(stored)) {
      throw new Error(
        `weight ${spec.sourceName}: cannot reshape [${stored.join(", ")}] to [${spec.reshape.join(", ")}]`,
      );
    }
    dims = spec.reshape;
  }
  return dims;
}

/** The initializer's raw little-endian bytes; weights are transposed and rounded in one pass to bound peak memory. */
async function initializerBytes(p: PlannedInitializer, weights: WeightSource): Promise<Uint8Array> {
  const { spec } = p;
  if (spec.kind === "computed") {
    if (spec.type === "float16") return asBytes(convertFloats(spec.values as Float32Array, null, true));
    return asBytes(spec.values);
  }
  const values = await weights.read(spec.sourceName);
  const stored = weights.shape(spec.sourceName);
  if (values.length !== elementCount(stored)) {
    throw new Error(`weight ${spec.sourceName}: source returned ${values.length} values for [${stored.join(", ")}]`);
  }
  const transposeOf = spec.transpose ? { rows: stored[0], cols: stored[1] } : null;
  if (!transposeOf && spec.type === "float32") return asBytes(values);
  return asBytes(convertFloats(values, transposeOf, spec.type === "float16"));
}

/** Optionally transposes a row-major [rows, cols] matrix and/or rounds to fp16, producing one new array. */
function convertFloats(
  values: Float32Array,
  transposeOf: { rows: number; cols: number } | null,
  toHalf: boolean,
): Float32Array | Uint16Array {
  const out = toHalf ? new Uint16Array(values.length) : new Float32Array(values.length);
  if (!transposeOf) {
    for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]);
    return out;
  }
  const { rows, cols } = transposeOf;
  for (let r = 0; r < rows; r++) {
    const rowStart = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = values[rowStart + c];
      out[c * rows + r] = toHalf ? float32ToFloat16Bits(v) : v;
    }
  }
  return out;
}

function asBytes(values: Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function nodeProto(node: NodeSpec): OnnxTypes.INodeProto {
  return {
    name: node.name,
    opType: node.opType,
    domain: node.domain,
    input: node.inputs,
    output: node.outputs,
    attribute: Object.entries(node.attrs).map(([name, value]) => attributeProto(name, value)),
  };
}

function attributeProto(name: string, value: AttrValue): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "number") {
    return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
  }
  if (typeof value === "string") return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    if (value.every((v): v is string => typeof v === "string")) {
      return { name, type: T.STRINGS, strings: value.map((s) => new TextEncoder().encode(s)) };
    }
    const numbers = value as number[];
    return numbers.every(Number.isInteger)
      ? { name, type: T.INTS, ints: numbers }
      : { name, type: T.FLOATS, floats: numbers };
  }
  switch (value.kind) {
    case "float":
      return { name, type: T.FLOAT, f: value.value };
    case "floats":
      return { name, type: T.FLOATS, floats: value.value };
    case "tensor": {
      const raw =
        value.type === "float16"
          ? asBytes(convertFloats(value.values as Float32Array, null, true))
          : asBytes(value.values);
      return { name, type: T.TENSOR, t: { dims: value.dims, dataType: ONNX_DTYPE[value.type], rawData: raw } };
    }
  }
}

function valueInfo(io: IoSpec): OnnxTypes.IValueInfoProto {
  return {
    name: io.name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[io.type],
        shape: { dim: io.dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Protobuf base-128 varint for non-negative integers up to 2^53 (protobufjs' writer stops at 2^32). */
export function encodeVarint(n: number): Uint8Array {
  const bytes: number[] = [];
  let rest = n;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Uint8Array.from(bytes);
}

function varintLength(n: number): number {
  return encodeVarint(n).length;
}

function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
