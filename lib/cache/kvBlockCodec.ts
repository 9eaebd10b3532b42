/**
 * The bytes of one L2 store block: the KV of `tokens` consecutive positions for every decoder layer, with a header
 * that lets a reader prove the block is whole and is the one it asked for before using it.
 *
 * Layout (little-endian, 96-byte header, then the payload):
 *   0  "VLKB"          4  format version u16   6  dtype u16 (1 float32, 2 float16 as raw 16-bit patterns)
 *   8  layers u32      12 kvHeads u32          16 headDim u32      20 tokens u32     24 payload bytes u32
 *   28 block hash (32 raw bytes)               60 SHA-256 of the payload (32 bytes)  92 zero (4 bytes)
 *   96 payload: per layer the key, then the value, each [kvHeads, tokens, headDim] (kvSegment.ts layout)
 *
 * Invariants: `decodeKvBlock(encodeKvBlock(hash, kv), {hash, shape, tokens})` returns arrays equal element for element
 * to `kv`; any other answer is a typed rejection, never arrays: a block that is truncated or padded (partial write),
 * of another format version, shape, dtype or token count, stored under another hash, or whose payload was altered is
 * rejected. Pure: no I/O.
 */

import { createHash } from "node:crypto";
import type { KvBlockHash } from "@/lib/cache/kvBlockChain";
import type { KvArray, KvArrays } from "@/lib/cache/kvSegment";

/** What every block of one model has in common. */
export interface KvBlockShape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtype: "float32" | "float16";
}

export interface KvBlockExpectation {
  readonly hash: KvBlockHash;
  readonly shape: KvBlockShape;
  readonly tokens: number;
}

export type KvBlockRejection = "truncated" | "format" | "shape" | "hash" | "checksum";

export type DecodedKvBlock =
  { readonly ok: true; readonly kv: KvArrays } | { readonly ok: false; readonly reason: KvBlockRejection };

const MAGIC = "VLKB";
const FORMAT_VERSION = 1;
const HEADER_BYTES = 96;
const DTYPE_CODE = { float32: 1, float16: 2 } as const;
const ELEMENT_BYTES = { float32: 4, float16: 2 } as const;

export function encodeKvBlock(hash: KvBlockHash, kv: KvArrays): Buffer {
  const first = kv.layers[0]?.key;
  if (first === undefined) throw new RangeError("encodeKvBlock: KV without layers");
  const dtype = first instanceof Float32Array ? "float32" : "float16";
  const shape: KvBlockShape = { layers: kv.layers.length, kvHeads: kv.kvHeads, headDim: kv.headDim, dtype };
  const payload = payloadBytes(shape, kv.length);
  const out = Buffer.alloc(HEADER_BYTES + payload);
  let offset = HEADER_BYTES;
  for (const layer of kv.layers) {
    for (const array of [layer.key, layer.value]) {
      const bytes = Buffer.from(array.buffer, array.byteOffset, array.byteLength);
      if (bytes.length !== payload / (2 * kv.layers.length))
        throw new RangeError("encodeKvBlock: arrays of different sizes or element types");
      bytes.copy(out, offset);
      offset += bytes.length;
    }
  }
  out.write(MAGIC, 0, "latin1");
  out.writeUInt16LE(FORMAT_VERSION, 4);
  out.writeUInt16LE(DTYPE_CODE[dtype], 6);
  out.writeUInt32LE(shape.layers, 8);
  out.writeUInt32LE(shape.kvHeads, 12);
  out.writeUInt32LE(shape.headDim, 16);
  out.writeUInt32LE(kv.length, 20);
  out.writeUInt32LE(payload, 24);
  out.write(hash, 28, "hex");
  createHash("sha256").update(out.subarray(HEADER_BYTES)).digest().copy(out, 60);
  return out;
}

export function decodeKvBlock(block: Buffer, expected: KvBlockExpectation): DecodedKvBlock {
  const { shape, tokens } = expected;
  const reject = (reason: KvBlockRejection): DecodedKvBlock => ({ ok: false, reason });
  if (block.length < HEADER_BYTES) return reject("truncated");
  if (block.toString("latin1", 0, 4) !== MAGIC || block.readUInt16LE(4) !== FORMAT_VERSION) return reject("format");
  const payload = payloadBytes(shape, tokens);
  if (
    block.readUInt16LE(6) !== DTYPE_CODE[shape.dtype] ||
    block.readUInt32LE(8) !== shape.layers ||
    block.readUInt32LE(12) !== shape.kvHeads ||
    block.readUInt32LE(16) !== shape.headDim ||
    block.readUInt32LE(20) !== tokens ||
    block.readUInt32LE(24) !== payload
  )
    return reject("shape");
  if (block.length !== HEADER_BYTES + payload) return reject("truncated");
  if (block.toString("hex", 28, 60) !== expected.hash) return reject("hash");
  const body = block.subarray(HEADER_BYTES);
  if (!createHash("sha256").update(body).digest().equals(block.subarray(60, 92))) return reject("checksum");

  // One aligned copy; every layer's arrays are views into it.
  const aligned = new Uint8Array(payload);
  aligned.set(body);
  const elements = shape.kvHeads * tokens * shape.headDim;
  const view = (index: number): KvArray => {
    const byteOffset = index * elements * ELEMENT_BYTES[shape.dtype];
    return shape.dtype === "float32"
      ? new Float32Array(aligned.buffer, byteOffset, elements)
      : new Uint16Array(aligned.buffer, byteOffset, elements);
  };
  const layers = Array.from({ length: shape.layers }, (_, i) => ({ key: view(2 * i), value: view(2 * i + 1) }));
  return { ok: true, kv: { kvHeads: shape.kvHeads, headDim: shape.headDim, length: tokens, layers } };
}

function payloadBytes(shape: KvBlockShape, tokens: number): number {
  return shape.layers * 2 * shape.kvHeads * tokens * shape.headDim * ELEMENT_BYTES[shape.dtype];
}
