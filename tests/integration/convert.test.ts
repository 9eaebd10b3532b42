import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SafetensorsCheckpoint } from "@/lib/model/checkpoint/safetensors";
import type { WrittenBundleManifest } from "@/lib/model/bundleManifest";
import { ConvertError, convertCheckpoint, convertRandom } from "@/lib/model/convert/convert";
import { getPreset } from "@/lib/model/convert/presets";
import { loadBundle } from "@/lib/model/engine/engine";

/**
 * The converter end to end on the tiny preset: random checkpoint → bundle (fp32, fp16, external data, plain rotary),
 * bundles open in onnxruntime-node and generate, fingerprints are deterministic, and bad sources fail with a clear
 * ConvertError.
 */

let root: string;
let checkpointDir: string;
let fp32Dir: string;
let fp32: WrittenBundleManifest;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "vlcache-convert-"));
  checkpointDir = path.join(root, "checkpoint");
  fp32Dir = path.join(root, "tiny-fp32");
  fp32 = await convertRandom("tiny", fp32Dir, { dtype: "fp32", seed: 3, checkpointDir });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const PROMPT = [151644, 872, 198, 9707, 11, 1246, 525, 498, 30, 151645, 198, 151644, 77091, 198];

describe("convertRandom / convertCheckpoint", () => {
  it("writes the bundle layout with a manifest", async () => {
    expect((await readdir(fp32Dir)).sort()).toEqual([
      "chat_template.jinja",
      "config.json",
      "generation_config.json",
      "onnx",
      "preprocessor_config.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "vlcache.json",
    ]);
    expect((await readdir(path.join(fp32Dir, "onnx"))).sort()).toEqual([
      "decoder_model_merged.onnx",
      "embed_tokens.onnx",
      "vision_encoder.onnx",
    ]);
    const manifest = JSON.parse(await readFile(path.join(fp32Dir, "vlcache.json"), "utf8"));
    expect(manifest).toEqual(fp32);
    expect(manifest.dtype).toBe("fp32");
    expect(manifest.rotary).toBe("fused");
    expect(manifest.sourceFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.source).toEqual({ kind: "random", preset: "tiny", seed: 3 });
    expect(manifest.graphs.decoder_model_merged.externalData).toBe(false);
    expect(manifest.graphs.decoder_model_merged.bytes).toBe(
      (await stat(path.join(fp32Dir, "onnx/decoder_model_merged.onnx"))).size,
    );
    const generation = JSON.parse(await readFile(path.join(fp32Dir, "generation_config.json"), "utf8"));
    expect(generation.eos_token_id).toEqual([151645, 151643]);
    // No staging folder is left behind.
    expect((await readdir(root)).filter((f) => f.includes(".partial-"))).toEqual([]);
  });

  it("takes a config.json's image bounds from an option or the closest preset, and records which in vlcache.json", async () => {
    const configPath = path.join(root, "config-like-tiny.json");
    await writeFile(configPath, JSON.stringify(getPreset("tiny").configJson));
    const imageSizeOf = async (dir: string) =>
      JSON.parse(await readFile(path.join(dir, "preprocessor_config.json"), "utf8")).size;

    const byPreset = await convertRandom(configPath, path.join(root, "from-config"), { dtype: "fp32", seed: 3 });
    expect(byPreset.imageBounds).toEqual({
      minPixels: 64 * 64,
      maxPixels: 512 * 512,
      from: { kind: "preset", preset: "tiny" },
    });
    expect(await imageSizeOf(path.join(root, "from-config"))).toEqual({
      shortest_edge: 64 * 64,
      longest_edge: 512 * 512,
    });

    const imageSize = { shortestEdge: 128 * 128, longestEdge: 1024 * 768 };
    const byOption = await convertRandom(configPath, path.join(root, "from-option"), {
      dtype: "fp32",
      seed: 3,
      imageSize,
    });
    expect(byOption.imageBounds).toEqual({ minPixels: 128 * 128, maxPixels: 1024 * 768, from: { kind: "option" } });
    expect(await imageSizeOf(path.join(root, "from-option"))).toEqual({
      shortest_edge: 128 * 128,
      longest_edge: 1024 * 768,
    });
    expect(JSON.parse(await readFile(path.join(root, "from-option", "vlcache.json"), "utf8")).imageBounds).toEqual(
      byOption.imageBounds,
    );
    expect(fp32.imageBounds).toEqual({
      minPixels: 64 * 64,
      maxPixels: 512 * 512,
      from: { kind: "preset", preset: "tiny" },
    });
  });

  it("keeps a Hub-style checkpoint whose tokenizer config carries no competing chat template", async () => {
    expect(existsSync(path.join(checkpointDir, "model.safetensors"))).toBe(true);
    const tokenizerConfig = JSON.parse(await readFile(path.join(checkpointDir, "tokenizer_config.json"), "utf8"));
    expect(tokenizerConfig.chat_template).toBeUndefined();
    const preprocessor = JSON.parse(await readFile(path.join(checkpointDir, "preprocessor_config.json"), "utf8"));
    expect(preprocessor).toMatchObject({
      patch_size: 16,
      merge_size: 2,
      temporal_patch_size: 2,
      image_mean: [0.5, 0.5, 0.5],
    });
    const ckpt = await SafetensorsCheckpoint.open(checkpointDir);
    try {
      expect(ckpt.dtype("model.language_model.embed_tokens.weight")).toBe("BF16");
      expect(ckpt.has("lm_head.weight")).toBe(false); // tied
    } finally {
      await ckpt.close();
    }
  });

  it("fingerprints deterministically: same seed → same weights → same fingerprint, another seed differs", async () => {
    const again = await convertCheckpoint(checkpointDir, path.join(root, "again"), { dtype: "fp32" });
    expect(again.sourceFingerprint).toBe(fp32.sourceFingerprint);
    const otherSeed = await convertRandom("tiny", path.join(root, "seed4"), { dtype: "fp32", seed: 4 });
    expect(otherSeed.sourceFingerprint).not.toBe(fp32.sourceFingerprint);
    const sameSeed = await convertRandom("tiny", path.join(root, "seed3"), { dtype: "fp32", seed: 3 });
    expect(sameSeed.sourceFingerprint).toBe(fp32.sourceFingerprint);
  });

  it("produces a bundle the engine runs: fp32, fp16, external-data and plain-rotary variants agree on greedy tokens", async () => {
    const fp16Dir = path.join(root, "tiny-fp16");
    const fp16 = await convertCheckpoint(checkpointDir, fp16Dir, { dtype: "fp16" });
    expect(fp16.dtype).toBe("fp16");
    expect(fp16.graphs.embed_tokens.bytes).toBeLessThan(fp32.graphs.embed_tokens.bytes * 0.55);

    const externalDir = path.join(root, "tiny-external");
    const external = await convertCheckpoint(checkpointDir, externalDir, {
      dtype: "fp32",
      externalDataThresholdBytes: 0,
    });
    expect(external.graphs.decoder_model_merged.externalData).toBe(true);
    expect(existsSync(path.join(externalDir, "onnx/decoder_model_merged.onnx_data"))).toBe(true);

    const plainRotaryDir = path.join(root, "tiny-plain-rotary");
    expect((await convertCheckpoint(checkpointDir, plainRotaryDir, { dtype: "fp32", rotary: "plain" })).rotary).toBe(
      "plain",
    );
    const hasRotaryNode = async (dir: string, graph: string) =>
      (await readFile(path.join(dir, "onnx", graph))).includes("RotaryEmbedding");
    for (const graph of ["decoder_model_merged.onnx", "vision_encoder.onnx"]) {
      expect(await hasRotaryNode(fp32Dir, graph), graph).toBe(true);
      expect(await hasRotaryNode(plainRotaryDir, graph), graph).toBe(false);
    }

    const generate = async (dir: string) => {
      const engine = await loadBundle(dir, { executionProvider: "cpu" });
      try {
        return await engine.generate({ inputIds: PROMPT, maxNewTokens: 8 });
      } finally {
        await engine.release();
      }
    };
    const reference = await generate(fp32Dir);
    expect(reference).toHaveLength(8);
    expect(await generate(externalDir)).toEqual(reference);
    expect(await generate(plainRotaryDir)).toEqual(reference);
    // fp16 rounding may flip a near-tie late in the sequence; the first tokens must agree.
    expect((await generate(fp16Dir)).slice(0, 2)).toEqual(reference.slice(0, 2));
  });

  it("names the graph inputs of the ▶ bundle contract", async () => {
    const session = await ort.InferenceSession.create(path.join(fp32Dir, "onnx/vision_encoder.onnx"));
    try {
      expect(session.inputNames).toEqual(["pixel_values", "image_grid_thw"]);
      expect(session.outputNames).toEqual(["image_features", "deepstack_features"]);
    } finally {
      await session.release();
    }
  });

  it("refuses bad sources and existing destinations with a ConvertError, leaving nothing behind", async () => {
    const broken = path.join(root, "broken");
    await convertRandom("tiny", path.join(root, "unused"), { dtype: "fp32", seed: 0, checkpointDir: broken });
    await unlink(path.join(broken, "preprocessor_config.json"));
    const out = path.join(root, "never");
    await expect(convertCheckpoint(broken, out, { dtype: "fp32" })).rejects.toThrow(
      /is missing preprocessor_config\.json/,
    );
    await expect(convertCheckpoint(path.join(root, "nope"), out, { dtype: "fp32" })).rejects.toMatchObject({
      code: "missing_source",
    });
    await expect(convertCheckpoint(checkpointDir, fp32Dir, { dtype: "fp32" })).rejects.toMatchObject({
      code: "out_exists",
    });
    await expect(convertRandom("huge", out, { dtype: "fp32", seed: 0 })).rejects.toBeInstanceOf(ConvertError);
    expect(existsSync(out)).toBe(false);
  });
});
