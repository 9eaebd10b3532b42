/**
 * Reader for NumPy `.npy` arrays (format versions 1–3), the format of the PyTorch reference fixtures. Supports
 * little-endian C-order float32 (`<f4`), float16 (`<f2`), int64 (`<i8`), int32 (`<i4`) and bool (`|b1`).
 *
 * Layout: magic `\x93NUMPY`, major and minor version bytes, header length (u16 LE for v1, u32 LE for v2/v3), a Python
 * dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded to 64 bytes, then the raw data.
 */

import { fromFloat16Array } from "@/lib/model/onnx/float16";

export type NpyArray =
  | { readonly dtype: "float32"; readonly shape: number[]; readonly data: Float32Array }
  | { readonly dtype: "float16"; readonly shape: number[]; readonly data: Uint16Array }
  | { readonly dtype: "int64"; readonly shape: number[]; readonly data: BigInt64Array }
  | { readonly dtype: "int32"; readonly shape: number[]; readonly data: Int32Array }
  | { readonly dtype: "bool"; readonly shape: number[]; readonly data: Uint8Array };

export class NpyFormatError extends Error {
  readonly code = "bad_npy";
  constructor(message: string) {
    super(message);
    this.name = "NpyFormatError";
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DTYPES = {
  "<f4": ["float32", 4],
  "<f2": ["float16", 2],
  "<i8": ["int64", 8],
  "<i4": ["int32", 4],
  "|b1": ["bool", 1],
} as const;

export function parseNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new NpyFormatError("not an .npy file (bad magic)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyFormatError(`unsupported .npy format version ${major}`);
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLength),
  );

  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new NpyFormatError(`unreadable .npy header: ${header.trim()}`);
  if (fortran === "True") throw new NpyFormatError("Fortran-order .npy arrays are not supported");
  if (!(descr in DTYPES))
    throw new NpyFormatError(`unsupported .npy dtype ${descr} (supported: ${Object.keys(DTYPES).join(", ")})`);
  const [dtype, itemSize] = DTYPES[descr as keyof typeof DTYPES];
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyFormatError(`bad .npy shape (${shapeText})`);

  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  if (bytes.length - dataStart !== count * itemSize) {
    throw new NpyFormatError(
      `.npy data is ${bytes.length - dataStart} bytes; shape (${shape.join(", ")}) of ${descr} needs ${count * itemSize}`,
    );
  }
  // Copy into a fresh, aligned buffer: typed arrays need offsets that are multiples of the item size. (`new
  // Uint8Array(view)` copies; Buffer#slice would not.)
  const raw = new Uint8Array(bytes.subarray(dataStart)).buffer;
  switch (dtype) {
    case "float32":
      return { dtype, shape, data: new Float32Array(raw) };
    case "float16":
      return { dtype, shape, data: new Uint16Array(raw) };
    case "int64":
      return { dtype, shape, data: new BigInt64Array(raw) };
    case "int32":
      return { dtype, shape, data: new Int32Array(raw) };
    case "bool":
      return { dtype, shape, data: new Uint8Array(raw) };
  }
}

/** Floating-point arrays as float32 (float16 widened exactly); other dtypes are an error. */
export function npyAsFloat32(array: NpyArray): Float32Array {
  if (array.dtype === "float32") return array.data;
  if (array.dtype === "float16") return fromFloat16Array(array.data);
  throw new NpyFormatError(`expected a float array, got ${array.dtype}`);
}
