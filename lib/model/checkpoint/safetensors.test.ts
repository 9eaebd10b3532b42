import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MissingTensorError } from "./weightSource";
import { SafetensorsCheckpoint, SafetensorsFormatError } from "./safetensors";
import { writeSafetensorsCheckpoint } from "./safetensorsWriter";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vlcache-st-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tensors: Record<string, { shape: number[]; values: Float32Array }> = {
  "a.weight": { shape: [2, 3], values: Float32Array.of(1, -2, 0.5, 0.25, 3, -0.125) },
  "b.bias": { shape: [4], values: Float32Array.of(8, 16, -32, 0) },
  "c.scale": { shape: [1, 1, 2], values: Float32Array.of(1.5, -1.5) },
};
const entries = Object.entries(tensors).map(([name, t]) => ({ name, shape: t.shape }));
const produce = (name: string) => tensors[name].values;

describe("safetensors reader and writer", () => {
  it.each(["F32", "F16", "BF16"] as const)(
    "round-trips %s tensors exactly representable in that dtype",
    async (dtype) => {
      await writeSafetensorsCheckpoint(dir, entries, produce, { dtype });
      const ckpt = await SafetensorsCheckpoint.open(dir);
      try {
        expect(ckpt.names().sort()).toEqual(["a.weight", "b.bias", "c.scale"]);
        for (const [name, t] of Object.entries(tensors)) {
          expect(ckpt.shape(name)).toEqual(t.shape);
          expect(ckpt.dtype(name)).toBe(dtype);
          expect(Array.from(await ckpt.read(name))).toEqual(Array.from(t.values));
        }
      } finally {
        await ckpt.close();
      }
    },
  );

  it("writes the documented layout: u64 header length, 8-byte aligned JSON, data offsets", async () => {
    await writeSafetensorsCheckpoint(dir, entries, produce, { dtype: "BF16" });
    const bytes = await readFile(path.join(dir, "model.safetensors"));
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
    expect(header["b.bias"]).toEqual({ dtype: "BF16", shape: [4], data_offsets: [12, 20] });
    // bf16(8) = 0x4100, little-endian.
    expect([...bytes.subarray(8 + headerLength + 12, 8 + headerLength + 14)]).toEqual([0x00, 0x41]);
    expect(bytes.length).toBe(8 + headerLength + 24);
  });

  it("shards with an index and reads across shards", async () => {
    const files = await writeSafetensorsCheckpoint(dir, entries, produce, { dtype: "F32", maxShardBytes: 20 });
    expect(files).toEqual([
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
    ]);
    const index = JSON.parse(await readFile(path.join(dir, "model.safetensors.index.json"), "utf8"));
    expect(index.weight_map["b.bias"]).toBe("model-00002-of-00003.safetensors");
    expect(index.metadata.total_size).toBe((6 + 4 + 2) * 4);
    const ckpt = await SafetensorsCheckpoint.open(dir);
    try {
      expect(Array.from(await ckpt.read("c.scale"))).toEqual([1.5, -1.5]);
      expect(Array.from(await ckpt.read("a.weight"))).toEqual(Array.from(tensors["a.weight"].values));
    } finally {
      await ckpt.close();
    }
  });

  it("names a missing tensor, a missing checkpoint and a corrupt header", async () => {
    await writeSafetensorsCheckpoint(dir, entries, produce, { dtype: "F32" });
    const ckpt = await SafetensorsCheckpoint.open(dir);
    expect(ckpt.has("lm_head.weight")).toBe(false);
    expect(() => ckpt.shape("lm_head.weight")).toThrow(MissingTensorError);
    await ckpt.close();

    const empty = await mkdtemp(path.join(os.tmpdir(), "vlcache-st-empty-"));
    await expect(SafetensorsCheckpoint.open(empty)).rejects.toThrow(/neither model.safetensors nor/);
    await rm(empty, { recursive: true });

    const header = Buffer.alloc(8);
    header.writeBigUInt64LE(1000n);
    await writeFile(path.join(dir, "model.safetensors"), Buffer.concat([header, Buffer.from("{}")]));
    await expect(SafetensorsCheckpoint.open(dir)).rejects.toThrow(SafetensorsFormatError);
  });
});
