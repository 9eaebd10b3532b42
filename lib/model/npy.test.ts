import { describe, expect, it } from "vitest";
import { NpyFormatError, npyAsFloat32, parseNpy } from "./npy";

/** Builds .npy bytes the way numpy.save does (v1 header padded so the data starts 64-byte aligned). */
function npyBytes(
  descr: string,
  shape: number[],
  data: ArrayBufferView,
  opts: { version?: 1 | 2; fortran?: boolean } = {},
): Uint8Array {
  const version = opts.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  const prefix = version === 1 ? 10 : 12;
  header += " ".repeat(63 - ((prefix + header.length) % 64)) + "\n";
  const out = new Uint8Array(prefix + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), prefix);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), prefix + header.length);
  return out;
}

describe("parseNpy", () => {
  it("reads float32 matrices in C order", () => {
    const arr = parseNpy(npyBytes("<f4", [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6.5)));
    expect(arr.dtype).toBe("float32");
    expect(arr.shape).toEqual([2, 3]);
    expect(Array.from(arr.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6.5]);
  });

  it("reads int64, int32, bool and scalars", () => {
    const ids = parseNpy(npyBytes("<i8", [3], BigInt64Array.of(151644n, -1n, 0n)));
    expect(ids.dtype).toBe("int64");
    expect(Array.from(ids.data as BigInt64Array)).toEqual([151644n, -1n, 0n]);
    expect(Array.from(parseNpy(npyBytes("<i4", [2], Int32Array.of(-5, 7))).data as Int32Array)).toEqual([-5, 7]);
    expect(Array.from(parseNpy(npyBytes("|b1", [2], Uint8Array.of(1, 0))).data as Uint8Array)).toEqual([1, 0]);
    const scalar = parseNpy(npyBytes("<f4", [], Float32Array.of(2.5)));
    expect(scalar.shape).toEqual([]);
    expect(Array.from(npyAsFloat32(scalar))).toEqual([2.5]);
  });

  it("widens float16 exactly and reads version 2 headers", () => {
    const arr = parseNpy(npyBytes("<f2", [1, 2], Uint16Array.of(0x3c00, 0xc100), { version: 2 }));
    expect(arr.shape).toEqual([1, 2]);
    expect(Array.from(npyAsFloat32(arr))).toEqual([1, -2.5]);
  });

  it("reads a Node Buffer (whose slice shares memory) without the header bytes", () => {
    const buffer = Buffer.from(npyBytes("<f4", [3], Float32Array.of(1, 2, 3)));
    const arr = parseNpy(buffer);
    expect(arr.data.length).toBe(3);
    expect(Array.from(arr.data as Float32Array)).toEqual([1, 2, 3]);
  });

  it("reads arrays that start at an odd offset inside a larger buffer", () => {
    const bytes = npyBytes("<f4", [2], Float32Array.of(0.25, -8));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(Array.from(parseNpy(shifted.subarray(1)).data as Float32Array)).toEqual([0.25, -8]);
  });

  it.each([
    ["bad magic", new Uint8Array(16), /bad magic/],
    ["Fortran order", npyBytes("<f4", [2, 1], Float32Array.of(1, 2), { fortran: true }), /Fortran-order/],
    ["big-endian data", npyBytes(">f4", [1], Float32Array.of(1)), /unsupported .npy dtype >f4/],
    ["a truncated body", npyBytes("<f4", [4], Float32Array.of(1, 2, 3)), /needs 16/],
  ])("rejects %s", (_name, bytes, message) => {
    expect(() => parseNpy(bytes)).toThrow(NpyFormatError);
    expect(() => parseNpy(bytes)).toThrow(message);
  });

  it("refuses integer arrays where floats are expected", () => {
    expect(() => npyAsFloat32(parseNpy(npyBytes("<i8", [1], BigInt64Array.of(1n))))).toThrow(/expected a float array/);
  });
});
