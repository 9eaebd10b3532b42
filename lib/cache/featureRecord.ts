import { crc32 } from "node:zlib";
import { float32ToFloat16Bits, fromFloat16Array } from "@/lib/model/onnx/float16";

/**
 * The L1 value: one image's vision-encoder output as a self-checking binary record.
 *
 * Layout (little-endian), a 40-byte header then the payload:
 *
 *   off size field
 *     0    4 magic "VLCF"
 *     4    2 format version (FEATURE_RECORD_VERSION)
 *     6    1 storage dtype: 1 fp32, 2 fp16, 3 int8
 *     7    1 reserved, 0
 *     8    4 tokens N           (merged patches: rows of image_features)
 *    12    4 hidden H
 *    16    4 DeepStack layers D (0 = the model has none)
 *    20   12 grid t, h, w       (image_grid_thw, in patches before merging)
 *    32    4 payload bytes
 *    36    4 CRC-32 of header bytes [0, 36) followed by the payload
 *    40      payload: R = N·(1 + D) rows of H values, image_features [N, H] first, then deepstack [D, N, H]
 *              fp32: R·H float32 · fp16: R·H binary16 · int8: R float32 row scales, then R·H int8
 *
 * int8 is symmetric per row: scale = max|row| / 127, q = round(x / scale), x ≈ q · scale, so every element is off by at
 * most scale / 2. fp16 rounds to nearest even. fp32 is exact.
 *
 * Invariant: decode either returns tensors whose shapes match the header, the payload and the caller's expectations,
 * with a matching checksum, or it returns a reason and no data. A record that fails any check is never partly used; the
 * caller drops it and recomputes. Encoding refuses what a record could not faithfully hold (bad shapes, non-finite
 * values, values beyond fp16's range), so a decoded record never contains NaN or Infinity.
 */

export const FEATURE_RECORD_VERSION = 1;
export const FEATURE_RECORD_HEADER_BYTES = 40;

export type FeatureDtype = "fp32" | "fp16" | "int8";
export const FEATURE_DTYPES: readonly FeatureDtype[] = ["fp32", "fp16", "int8"];

/** Structurally an onnxruntime float32 Tensor's `data` and `dims`, without importing ORT. */
export interface Float32Tensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export type GridThw = readonly [t: number, h: number, w: number];

export interface FeatureTensors {
  /** [N, H] */
  readonly imageFeatures: Float32Tensor;
  /** [D, N, H], or null for a model without DeepStack. */
  readonly deepstack: Float32Tensor | null;
  readonly gridThw: GridThw;
}

export interface FeatureRecord extends FeatureTensors {
  /** How the record was stored; fp16 and int8 records decode to approximations of the encoded floats. */
  readonly storedAs: FeatureDtype;
}

/** What the reader knows independently of the record: the model's dimensions and, when known, the image's. */
export interface ExpectedFeatureShape {
  readonly hidden: number;
  /** 0 for a model without DeepStack. */
  readonly deepstackLayers: number;
  readonly tokens?: number;
  readonly gridThw?: GridThw;
}

export type FeatureDecodeFailure =
  "bad-magic" | "version" | "truncated" | "trailing-bytes" | "checksum" | "header" | "shape-mismatch";

export type FeatureDecodeResult =
  | { readonly ok: true; readonly record: FeatureRecord }
  | { readonly ok: false; readonly reason: FeatureDecodeFailure; readonly detail: string };

export type FeatureEncodeErrorCode = "shape" | "non-finite" | "out-of-range" | "too-large";

export class FeatureRecordEncodeError extends Error {
  constructor(
    readonly code: FeatureEncodeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "FeatureRecordEncodeError";
  }
}

const MAGIC = 0x46434c56; // "VLCF" read as a little-endian uint32
const DTYPE_CODES: Record<FeatureDtype, number> = { fp32: 1, fp16: 2, int8: 3 };
const CHECKSUM_OFFSET = 36;
const FP16_MAX = 65504;
const UINT32_LIMIT = 2 ** 32;

// Payload arrays are typed-array views, which use the host's byte order; the format is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("featureRecord: a little-endian host is required");
}

export function encodeFeatureRecord(tensors: FeatureTensors, dtype: FeatureDtype): Buffer {
  const { tokens, hidden, layers } = checkTensors(tensors);
  const rows = tokens * (1 + layers);
  const payloadBytes = payloadSize(dtype, rows, hidden);
  if (payloadBytes >= UINT32_LIMIT) {
    throw new FeatureRecordEncodeError(
      "too-large",
      `payload of ${payloadBytes} bytes does not fit the 32-bit length field`,
    );
  }
  const out = Buffer.alloc(FEATURE_RECORD_HEADER_BYTES + payloadBytes);
  const header = new DataView(out.buffer, out.byteOffset, FEATURE_RECORD_HEADER_BYTES);
  header.setUint32(0, MAGIC, true);
  header.setUint16(4, FEATURE_RECORD_VERSION, true);
  header.setUint8(6, DTYPE_CODES[dtype]);
  header.setUint32(8, tokens, true);
  header.setUint32(12, hidden, true);
  header.setUint32(16, layers, true);
  tensors.gridThw.forEach((extent, i) => header.setUint32(20 + 4 * i, extent, true));
  header.setUint32(32, payloadBytes, true);

  const sections = tensors.deepstack
    ? [tensors.imageFeatures.data, tensors.deepstack.data]
    : [tensors.imageFeatures.data];
  const payload = out.subarray(FEATURE_RECORD_HEADER_BYTES);
  writePayload(payload, dtype, sections, rows, hidden);
  header.setUint32(CHECKSUM_OFFSET, checksum(out.subarray(0, CHECKSUM_OFFSET), payload), true);
  return out;
}

/**
 * What decoding `tensors`' record would refuse them for (as `shape-mismatch`) against `expected`, or null; throws the
 * FeatureRecordEncodeError encoding them would. For a writer that knows its record decodes to the tensors themselves
 * (fp32) and only needs the check.
 */
export function tensorsShapeMismatch(tensors: FeatureTensors, expected: ExpectedFeatureShape): string | null {
  return shapeMismatch({ ...checkTensors(tensors), gridThw: tensors.gridThw }, expected);
}

export function decodeFeatureRecord(bytes: Uint8Array, expected: ExpectedFeatureShape): FeatureDecodeResult {
  if (bytes.length < 4) return fail("truncated", `${bytes.length} bytes, shorter than the magic`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint32(0, true) !== MAGIC) return fail("bad-magic", "not a vlcache feature record");
  if (bytes.length < FEATURE_RECORD_HEADER_BYTES) {
    return fail("truncated", `${bytes.length} bytes, shorter than the ${FEATURE_RECORD_HEADER_BYTES}-byte header`);
  }
  const version = view.getUint16(4, true);
  if (version !== FEATURE_RECORD_VERSION) {
    return fail("version", `format version ${version}, this reader knows ${FEATURE_RECORD_VERSION}`);
  }
  const payloadBytes = view.getUint32(32, true);
  const total = FEATURE_RECORD_HEADER_BYTES + payloadBytes;
  if (bytes.length < total) return fail("truncated", `${bytes.length} bytes, the header announces ${total}`);
  if (bytes.length > total) return fail("trailing-bytes", `${bytes.length} bytes, the header announces ${total}`);
  const payload = bytes.subarray(FEATURE_RECORD_HEADER_BYTES);
  if (checksum(bytes.subarray(0, CHECKSUM_OFFSET), payload) !== view.getUint32(CHECKSUM_OFFSET, true)) {
    return fail("checksum", "CRC-32 does not match the contents");
  }

  const dtype = FEATURE_DTYPES.find((name) => DTYPE_CODES[name] === view.getUint8(6));
  if (dtype === undefined) return fail("header", `unknown dtype code ${view.getUint8(6)}`);
  if (view.getUint8(7) !== 0) return fail("header", "reserved byte is not zero");
  const tokens = view.getUint32(8, true);
  const hidden = view.getUint32(12, true);
  const layers = view.getUint32(16, true);
  const gridThw: GridThw = [view.getUint32(20, true), view.getUint32(24, true), view.getUint32(28, true)];
  if (tokens === 0 || hidden === 0 || gridThw.includes(0)) return fail("header", "a dimension is zero");
  const rows = tokens * (1 + layers);
  if (payloadSize(dtype, rows, hidden) !== payloadBytes) {
    return fail("header", `payload of ${payloadBytes} bytes does not hold ${rows}×${hidden} ${dtype} values`);
  }

  const mismatch = shapeMismatch({ tokens, hidden, layers, gridThw }, expected);
  if (mismatch !== null) return fail("shape-mismatch", mismatch);

  const values = readPayload(payload, dtype, rows, hidden);
  const featureCount = tokens * hidden;
  return {
    ok: true,
    record: {
      imageFeatures: { data: layers === 0 ? values : values.slice(0, featureCount), dims: [tokens, hidden] },
      deepstack: layers === 0 ? null : { data: values.slice(featureCount), dims: [layers, tokens, hidden] },
      gridThw,
      storedAs: dtype,
    },
  };
}

function fail(reason: FeatureDecodeFailure, detail: string): FeatureDecodeResult {
  return { ok: false, reason, detail };
}

function checksum(header: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(header));
}

function payloadSize(dtype: FeatureDtype, rows: number, hidden: number): number {
  const values = rows * hidden;
  if (dtype === "fp32") return values * 4;
  if (dtype === "fp16") return values * 2;
  return rows * 4 + values;
}

function checkTensors(tensors: FeatureTensors): { tokens: number; hidden: number; layers: number } {
  const { imageFeatures, deepstack, gridThw } = tensors;
  const shapeError = (message: string) => new FeatureRecordEncodeError("shape", message);
  const isExtent = (n: number) => Number.isInteger(n) && n > 0 && n < UINT32_LIMIT;
  if (imageFeatures.dims.length !== 2 || !imageFeatures.dims.every(isExtent)) {
    throw shapeError(`image features must be [N, H] with positive extents, got [${imageFeatures.dims}]`);
  }
  const [tokens, hidden] = imageFeatures.dims;
  if (imageFeatures.data.length !== tokens * hidden) {
    throw shapeError(
      `image features hold ${imageFeatures.data.length} values, [${tokens}, ${hidden}] needs ${tokens * hidden}`,
    );
  }
  let layers = 0;
  if (deepstack !== null) {
    const [d, n, h] = deepstack.dims;
    if (deepstack.dims.length !== 3 || !deepstack.dims.every(isExtent) || n !== tokens || h !== hidden) {
      throw shapeError(`deepstack must be [D, ${tokens}, ${hidden}], got [${deepstack.dims}]`);
    }
    if (deepstack.data.length !== d * n * h) {
      throw shapeError(`deepstack holds ${deepstack.data.length} values, [${d}, ${n}, ${h}] needs ${d * n * h}`);
    }
    layers = d;
  }
  if (gridThw.length !== 3 || !gridThw.every(isExtent)) {
    throw shapeError(`grid must be three positive integers, got [${gridThw}]`);
  }
  return { tokens, hidden, layers };
}

function shapeMismatch(
  actual: { tokens: number; hidden: number; layers: number; gridThw: GridThw },
  expected: ExpectedFeatureShape,
): string | null {
  if (actual.hidden !== expected.hidden) return `hidden ${actual.hidden}, expected ${expected.hidden}`;
  if (actual.layers !== expected.deepstackLayers) {
    return `${actual.layers} DeepStack layers, expected ${expected.deepstackLayers}`;
  }
  if (expected.tokens !== undefined && actual.tokens !== expected.tokens) {
    return `${actual.tokens} tokens, expected ${expected.tokens}`;
  }
  if (expected.gridThw !== undefined && actual.gridThw.some((extent, i) => extent !== expected.gridThw![i])) {
    return `grid [${actual.gridThw}], expected [${expected.gridThw}]`;
  }
  return null;
}

function writePayload(
  payload: Uint8Array,
  dtype: FeatureDtype,
  sections: readonly Float32Array[],
  rows: number,
  hidden: number,
): void {
  let offset = 0;
  for (const section of sections) {
    for (let i = 0; i < section.length; i++) {
      if (!Number.isFinite(section[i])) {
        throw new FeatureRecordEncodeError(
          "non-finite",
          `value ${offset + i} is ${section[i]}; features must be finite`,
        );
      }
    }
    offset += section.length;
  }
  if (dtype === "fp32") {
    // Buffer.alloc may hand out an unaligned slice of its pool, so write through a byte view.
    offset = 0;
    for (const section of sections) {
      payload.set(new Uint8Array(section.buffer, section.byteOffset, section.byteLength), offset);
      offset += section.byteLength;
    }
    return;
  }
  if (dtype === "fp16") {
    const halves = new Uint16Array(rows * hidden);
    offset = 0;
    for (const section of sections) {
      for (let i = 0; i < section.length; i++) {
        const bits = float32ToFloat16Bits(section[i]);
        if ((bits & 0x7c00) === 0x7c00) {
          throw new FeatureRecordEncodeError(
            "out-of-range",
            `value ${offset + i} is ${section[i]}, beyond fp16's ±${FP16_MAX}`,
          );
        }
        halves[offset + i] = bits;
      }
      offset += section.length;
    }
    payload.set(new Uint8Array(halves.buffer));
    return;
  }
  const scales = new Float32Array(rows);
  const quantised = new Int8Array(payload.buffer, payload.byteOffset + rows * 4, rows * hidden);
  let row = 0;
  // Every section holds whole rows of `hidden` values, so no row straddles two sections.
  for (const section of sections) {
    for (let start = 0; start < section.length; start += hidden, row++) {
      let maxAbs = 0;
      for (let i = start; i < start + hidden; i++) maxAbs = Math.max(maxAbs, Math.abs(section[i]));
      // Quantise against the scale as stored (float32), so the scale / 2 error bound holds for the decoded values.
      const scale = Math.fround(maxAbs / 127);
      scales[row] = scale;
      if (scale === 0) continue;
      const target = row * hidden - start;
      for (let i = start; i < start + hidden; i++) {
        quantised[target + i] = Math.max(-127, Math.min(127, Math.round(section[i] / scale)));
      }
    }
  }
  payload.set(new Uint8Array(scales.buffer), 0);
}

function readPayload(payload: Uint8Array, dtype: FeatureDtype, rows: number, hidden: number): Float32Array {
  const count = rows * hidden;
  if (dtype === "fp32") {
    // Copy into a fresh (aligned) buffer: the input may be an unaligned slice of a larger one.
    const values = new Float32Array(count);
    new Uint8Array(values.buffer).set(payload);
    return values;
  }
  if (dtype === "fp16") {
    const halves = new Uint16Array(count);
    new Uint8Array(halves.buffer).set(payload);
    return fromFloat16Array(halves);
  }
  const scales = new Float32Array(rows);
  new Uint8Array(scales.buffer).set(payload.subarray(0, rows * 4));
  const quantised = new Int8Array(payload.buffer, payload.byteOffset + rows * 4, count);
  const values = new Float32Array(count);
  for (let row = 0; row < rows; row++) {
    const scale = scales[row];
    for (let i = row * hidden; i < (row + 1) * hidden; i++) values[i] = quantised[i] * scale;
  }
  return values;
}
