/**
 * Streaming safetensors writer: the header is computed from shapes alone, then tensors are produced and written one at
 * a time, so a multi-GB checkpoint never sits in memory. Large checkpoints are split into shards with a
 * `model.safetensors.index.json`, the layout transformers' `save_pretrained` uses.
 */

import { open, writeFile } from "node:fs/promises";
import path from "node:path";
import { toBfloat16Array, toFloat16Array } from "@/lib/model/onnx/float16";
import { writeAll } from "@/lib/model/onnx/fileWrites";
import { SAFETENSORS_BYTES_PER_ELEMENT, type SafetensorsDtype } from "./safetensors";
import { elementCount } from "./weightSource";

export interface TensorEntry {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Produces one tensor's fp32 values; the writer rounds them to the file dtype. */
export type TensorProducer = (name: string) => Promise<Float32Array> | Float32Array;

export interface WriteCheckpointOptions {
  dtype: SafetensorsDtype;
  /**
   * Shards are cut before a tensor that would push a shard past this size; default 4 GiB like save_pretrained's 5 GB.
   */
  maxShardBytes?: number;
  onTensorWritten?: (bytes: number) => void;
}

/**
 * Writes `entries` (in the given order) as `model.safetensors` or shards + index into `dir`. Returns the file names.
 */
export async function writeSafetensorsCheckpoint(
  dir: string,
  entries: readonly TensorEntry[],
  produce: TensorProducer,
  opts: WriteCheckpointOptions,
): Promise<string[]> {
  const bytesPerElement = SAFETENSORS_BYTES_PER_ELEMENT[opts.dtype];
  const maxShardBytes = opts.maxShardBytes ?? 4 * 1024 ** 3;
  const shards: TensorEntry[][] = [[]];
  let shardBytes = 0;
  for (const entry of entries) {
    const bytes = elementCount(entry.shape) * bytesPerElement;
    if (shardBytes > 0 && shardBytes + bytes > maxShardBytes) {
      shards.push([]);
      shardBytes = 0;
    }
    shards[shards.length - 1].push(entry);
    shardBytes += bytes;
  }

  if (shards.length === 1) {
    await writeSafetensorsFile(path.join(dir, "model.safetensors"), shards[0], produce, opts);
    return ["model.safetensors"];
  }
  const files = shards.map((_, i) => `model-${pad5(i + 1)}-of-${pad5(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let i = 0; i < shards.length; i++) {
    await writeSafetensorsFile(path.join(dir, files[i]), shards[i], produce, opts);
    for (const entry of shards[i]) {
      weightMap[entry.name] = files[i];
      totalSize += elementCount(entry.shape) * bytesPerElement;
    }
  }
  const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
  await writeFile(path.join(dir, "model.safetensors.index.json"), JSON.stringify(index, null, 2) + "\n");
  return files;
}

export async function writeSafetensorsFile(
  filePath: string,
  entries: readonly TensorEntry[],
  produce: TensorProducer,
  opts: WriteCheckpointOptions,
): Promise<void> {
  const bytesPerElement = SAFETENSORS_BYTES_PER_ELEMENT[opts.dtype];
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const entry of entries) {
    const byteLength = elementCount(entry.shape) * bytesPerElement;
    header[entry.name] = { dtype: opts.dtype, shape: entry.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  // The data section must start 8-byte aligned; the format pads the JSON with spaces.
  let headerJson = JSON.stringify(header);
  headerJson += " ".repeat((8 - ((8 + Buffer.byteLength(headerJson)) % 8)) % 8);
  const headerBytes = Buffer.from(headerJson, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  const handle = await open(filePath, "w");
  try {
    await handle.write(prefix);
    await handle.write(headerBytes);
    for (const entry of entries) {
      const values = await produce(entry.name);
      if (values.length !== elementCount(entry.shape)) {
        throw new Error(`tensor ${entry.name}: produced ${values.length} values for shape [${entry.shape.join(", ")}]`);
      }
      const encoded = encode(values, opts.dtype);
      await writeAll(handle, new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength));
      opts.onTensorWritten?.(encoded.byteLength);
    }
  } finally {
    await handle.close();
  }
}

function encode(values: Float32Array, dtype: SafetensorsDtype): Float32Array | Uint16Array {
  switch (dtype) {
    case "F32":
      return values;
    case "F16":
      return toFloat16Array(values);
    case "BF16":
      return toBfloat16Array(values);
  }
}

function pad5(n: number): string {
  return String(n).padStart(5, "0");
}
