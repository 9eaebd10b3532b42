/**
 * Reader for Hugging Face safetensors checkpoints: one `model.safetensors`, or shards listed by
 * `model.safetensors.index.json`. Only the JSON headers are held in memory; each `read()` fetches exactly one tensor's
 * bytes with a positioned read and widens them to fp32.
 *
 * File layout: u64 little-endian header length N, N bytes of JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then the data; offsets count from byte 8 + N.
 */

import { open, readFile, stat, type FileHandle } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { fromBfloat16Array, fromFloat16Array } from "@/lib/model/onnx/float16";
import { elementCount, MissingTensorError, type WeightSource } from "./weightSource";

export type SafetensorsDtype = "F32" | "F16" | "BF16";

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

const headerEntrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

const indexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

interface TensorLocation {
  readonly file: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: number[];
  /** Absolute byte offset of the tensor's data in `file`. */
  readonly start: number;
  readonly byteLength: number;
}

export class SafetensorsFormatError extends Error {
  readonly code = "bad_safetensors";
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsFormatError";
  }
}

/** Largest single read; fs reads are limited to 2 GiB − 1 per call. */
const READ_CHUNK = 1 << 30;

export class SafetensorsCheckpoint implements WeightSource {
  private readonly handles = new Map<string, FileHandle>();

  private constructor(
    readonly dir: string,
    /** Shard file names (relative to dir) in name order. */
    readonly files: readonly string[],
    private readonly tensors: ReadonlyMap<string, TensorLocation>,
  ) {}

  /** Opens `dir` (a checkpoint folder) or a single `.safetensors` file. */
  static async open(dirOrFile: string): Promise<SafetensorsCheckpoint> {
    const isFile = dirOrFile.endsWith(".safetensors");
    const dir = isFile ? path.dirname(dirOrFile) : dirOrFile;
    let files: string[];
    if (isFile) {
      files = [path.basename(dirOrFile)];
    } else if (existsSync(path.join(dir, "model.safetensors.index.json"))) {
      const index = indexSchema.parse(
        JSON.parse(await readFile(path.join(dir, "model.safetensors.index.json"), "utf8")),
      );
      files = [...new Set(Object.values(index.weight_map))].sort();
    } else if (existsSync(path.join(dir, "model.safetensors"))) {
      files = ["model.safetensors"];
    } else {
      throw new SafetensorsFormatError(`${dir} has neither model.safetensors nor model.safetensors.index.json`);
    }

    const tensors = new Map<string, TensorLocation>();
    for (const file of files) {
      for (const location of await readHeader(path.join(dir, file), file)) {
        if (tensors.has(location.name))
          throw new SafetensorsFormatError(`tensor ${location.name} appears in two shards`);
        tensors.set(location.name, location);
      }
    }
    return new SafetensorsCheckpoint(dir, files, tensors);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  shape(name: string): number[] {
    return [...this.location(name).shape];
  }

  dtype(name: string): SafetensorsDtype {
    return this.location(name).dtype;
  }

  /** Stored size in bytes. */
  byteLength(name: string): number {
    return this.location(name).byteLength;
  }

  /** The tensor's bytes exactly as stored (little-endian `dtype` elements). */
  async readRaw(name: string): Promise<Uint8Array> {
    const loc = this.location(name);
    const handle = await this.handle(loc.file);
    // A fresh ArrayBuffer (not the pooled Buffer allocator) so typed-array views start at offset 0 and stay aligned.
    const bytes = new Uint8Array(new ArrayBuffer(loc.byteLength));
    for (let done = 0; done < loc.byteLength;) {
      const length = Math.min(READ_CHUNK, loc.byteLength - done);
      const { bytesRead } = await handle.read(bytes, done, length, loc.start + done);
      if (bytesRead === 0) throw new SafetensorsFormatError(`${loc.file} ends inside tensor ${name}`);
      done += bytesRead;
    }
    return bytes;
  }

  async read(name: string): Promise<Float32Array> {
    const loc = this.location(name);
    const bytes = await this.readRaw(name);
    const count = elementCount(loc.shape);
    switch (loc.dtype) {
      case "F32":
        return new Float32Array(bytes.buffer, 0, count);
      case "F16":
        return fromFloat16Array(new Uint16Array(bytes.buffer, 0, count));
      case "BF16":
        return fromBfloat16Array(new Uint16Array(bytes.buffer, 0, count));
    }
  }

  async close(): Promise<void> {
    for (const handle of this.handles.values()) await handle.close();
    this.handles.clear();
  }

  private location(name: string): TensorLocation {
    const loc = this.tensors.get(name);
    if (!loc) throw new MissingTensorError(name, `the checkpoint at ${this.dir}`);
    return loc;
  }

  private async handle(file: string): Promise<FileHandle> {
    let handle = this.handles.get(file);
    if (!handle) {
      handle = await open(path.join(this.dir, file), "r");
      this.handles.set(file, handle);
    }
    return handle;
  }
}

async function readHeader(filePath: string, file: string): Promise<(TensorLocation & { name: string })[]> {
  const handle = await open(filePath, "r");
  try {
    const { size } = await stat(filePath);
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const headerLength = Number(prefix.readBigUInt64LE(0));
    if (size < 8 || headerLength > size - 8 || headerLength > 100 * 1024 * 1024) {
      throw new SafetensorsFormatError(`${file}: header length ${headerLength} does not fit a ${size}-byte file`);
    }
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBytes.toString("utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new SafetensorsFormatError(`${file}: header is not JSON (${(error as Error).message})`);
    }
    const dataStart = 8 + headerLength;
    const out: (TensorLocation & { name: string })[] = [];
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const entry = headerEntrySchema.parse(raw);
      if (!(entry.dtype in BYTES_PER_ELEMENT)) {
        throw new SafetensorsFormatError(
          `${file}: tensor ${name} has dtype ${entry.dtype}; only F32, F16 and BF16 are supported`,
        );
      }
      const dtype = entry.dtype as SafetensorsDtype;
      const [begin, end] = entry.data_offsets;
      const byteLength = end - begin;
      if (byteLength !== elementCount(entry.shape) * BYTES_PER_ELEMENT[dtype] || dataStart + end > size) {
        throw new SafetensorsFormatError(
          `${file}: tensor ${name} offsets [${begin}, ${end}] do not match its shape or the file`,
        );
      }
      out.push({ name, file, dtype, shape: entry.shape, start: dataStart + begin, byteLength });
    }
    return out;
  } finally {
    await handle.close();
  }
}

export { BYTES_PER_ELEMENT as SAFETENSORS_BYTES_PER_ELEMENT };
