/**
 * Gives every com.microsoft MultiHeadAttention node of a serialized ONNX model `present_key` / `present_value`
 * outputs; every other byte stays as it was.
 *
 * Why: ORT's WebGPU MultiHeadAttention takes its flash-attention kernel only when the node has present outputs (without
 * them it materialises [B, heads, S, S] scores: 390 of the 803 ms of the 2b vision encoder on an H200), while the
 * CPU's takes its flash kernel only when the node has none. Bundles keep the CPU's form; a provider that needs this
 * one rewrites the graph when it opens it (executionProvider.ts). Nothing reads the added outputs (the node's keys
 * and values in [B, heads, S, head] layout).
 *
 * Only the graph's node entries are decoded and re-encoded; the rest of the model (initializers: up to 2 GiB of
 * weights inline) is copied as byte slices.
 */

import onnxProto from "onnx-proto";

/** onnx-proto is CommonJS; a default import works under both Node's ESM loader and bundlers. */
const { onnx } = onnxProto;

/** ModelProto.graph and GraphProto.node field numbers (onnx.proto). */
const MODEL_GRAPH_FIELD = 7;
const GRAPH_NODE_FIELD = 1;
const LENGTH_DELIMITED = 2;

/** One top-level field of a protobuf message: its bytes [start, end), and for a length-delimited one its payload. */
interface Field {
  readonly number: number;
  readonly start: number;
  readonly end: number;
  readonly payloadStart: number;
}

function readVarint(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length; i++) {
    value += (bytes[i] & 0x7f) * scale;
    if ((bytes[i] & 0x80) === 0) return { value, next: i + 1 };
    scale *= 128;
  }
  throw new Error("ONNX model: truncated varint");
}

function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Uint8Array.from(out);
}

/** The top-level fields of the message in bytes [from, to). */
function fields(bytes: Uint8Array, from: number, to: number): Field[] {
  const result: Field[] = [];
  let at = from;
  while (at < to) {
    const tag = readVarint(bytes, at);
    const number = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    let payloadStart = tag.next;
    let end: number;
    switch (wireType) {
      case 0:
        end = readVarint(bytes, tag.next).next;
        break;
      case 1:
        end = tag.next + 8;
        break;
      case LENGTH_DELIMITED: {
        const length = readVarint(bytes, tag.next);
        payloadStart = length.next;
        end = length.next + length.value;
        break;
      }
      case 5:
        end = tag.next + 4;
        break;
      default:
        throw new Error(`ONNX model: unsupported protobuf wire type ${wireType}`);
    }
    if (end > to) throw new Error("ONNX model: field runs past its message");
    result.push({ number, start: at, end, payloadStart });
    at = end;
  }
  return result;
}

function lengthDelimited(number: number, payload: Uint8Array[]): Uint8Array[] {
  const length = payload.reduce((sum, p) => sum + p.length, 0);
  return [encodeVarint(number * 8 + LENGTH_DELIMITED), encodeVarint(length), ...payload];
}

/** The node with present outputs, or null when it needs none (not an MHA node, or it has them already). */
function withPresent(node: InstanceType<typeof onnx.NodeProto>): Uint8Array | null {
  if (node.opType !== "MultiHeadAttention" || node.domain !== "com.microsoft") return null;
  const outputs = [...node.output];
  if (outputs.length >= 3 && outputs[1] !== "" && outputs[2] !== "") return null;
  outputs.length = 3;
  outputs[1] ||= `${node.name}/present_key`;
  outputs[2] ||= `${node.name}/present_value`;
  node.output = outputs;
  return onnx.NodeProto.encode(node).finish();
}

/** `model` with present outputs on its MultiHeadAttention nodes, or null when none lacks them. */
export function withAttentionPresentOutputs(model: Uint8Array): Uint8Array | null {
  const top = fields(model, 0, model.length);
  const graph = top.find((f) => f.number === MODEL_GRAPH_FIELD);
  if (graph === undefined) throw new Error("ONNX model: no graph");
  let changed = false;
  const graphPayload = fields(model, graph.payloadStart, graph.end).flatMap((f): Uint8Array[] => {
    const raw = model.subarray(f.start, f.end);
    if (f.number !== GRAPH_NODE_FIELD) return [raw];
    const rewritten = withPresent(onnx.NodeProto.decode(model.subarray(f.payloadStart, f.end)));
    if (rewritten === null) return [raw];
    changed = true;
    return lengthDelimited(GRAPH_NODE_FIELD, [rewritten]);
  });
  if (!changed) return null;
  const pieces = [
    model.subarray(0, graph.start),
    ...lengthDelimited(MODEL_GRAPH_FIELD, graphPayload),
    model.subarray(graph.end),
  ];
  const out = new Uint8Array(pieces.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}
