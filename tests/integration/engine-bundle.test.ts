import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@/lib/log";
import { parseQwen3VLConfig } from "@/lib/model/config";
import { ONNX_FILES, presentOutputNames, visionOutputNames } from "@/lib/model/engine/bundle";
import { Engine } from "@/lib/model/engine/engine";
import { BundleLoadError } from "@/lib/model/engine/errors";
import { EXECUTION_PROVIDERS, providerSessionFactory } from "@/lib/model/engine/executionProvider";
import { fixtureBundle } from "./engineFixtures";

/**
 * Loading bundles: the execution provider choice (auto = the fastest of those that initialise, logged once with the
 * reason) and a precise error for
 * each way a bundle folder can be broken, naming the file at fault.
 */
describe("engine bundle loading", () => {
  let good: string;
  let otherModel: string;
  let scratch: string;

  beforeAll(async () => {
    good = await fixtureBundle("tiny-deepstack-tied");
    otherModel = await fixtureBundle("tiny-plain-untied");
    scratch = await mkdtemp(path.join(os.tmpdir(), "vlcache-bundles-"));
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** A bundle folder linking to `good`'s files, with `changes` applied (null = leave the file out). */
  async function variantOf(name: string, changes: Record<string, string | null | { linkTo: string }>): Promise<string> {
    const dir = path.join(scratch, name);
    await mkdir(path.join(dir, "onnx"), { recursive: true });
    for (const file of ["config.json", "generation_config.json", "vlcache.json", ...Object.values(ONNX_FILES)]) {
      const change = changes[file];
      if (change === null) continue;
      if (typeof change === "string") await writeFile(path.join(dir, file), change);
      else if (change) await symlink(change.linkTo, path.join(dir, file));
      else if (file.endsWith(".json")) await copyFile(path.join(good, file), path.join(dir, file));
      else await symlink(path.join(good, file), path.join(dir, file));
    }
    return dir;
  }

  async function loadError(dir: string): Promise<BundleLoadError> {
    const error = await Engine.load(dir, { executionProvider: "cpu" }).then(
      (engine) => engine.release().then(() => null),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BundleLoadError);
    return error as BundleLoadError;
  }

  it("picks an execution provider that initialises for auto and logs the choice once, with the reason", async () => {
    const lines: string[] = [];
    const logger = createLogger("info", { write: (line: string) => lines.push(line) });
    const engine = await Engine.load(good, { executionProvider: "auto", logger });
    try {
      expect(EXECUTION_PROVIDERS).toContain(engine.executionProvider);
      const selections = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === "onnxruntime execution provider selected");
      expect(selections).toHaveLength(1);
      expect(selections[0]).toMatchObject({ executionProvider: engine.executionProvider, requested: "auto" });
      // Here (no GPU) only the CPU initialises; on a GPU machine the reason lists each provider's probe time.
      expect(selections[0].why).toMatch(/only provider that initialised|fastest on a short request/);
      expect(engine.manifest.dtype).toBe("fp32");
      expect(engine.eosTokenIds).toEqual([151645, 151643]);
    } finally {
      await engine.release();
    }
  });

  it("names a missing graph file", async () => {
    const error = await loadError(await variantOf("no-decoder", { [ONNX_FILES.decoder]: null }));
    expect(error.code).toBe("bundle_missing_file");
    expect(error.file).toMatch(/onnx\/decoder_model_merged\.onnx$/);
  });

  it("names a missing or malformed JSON file and says what is wrong", async () => {
    const missing = await loadError(await variantOf("no-manifest", { "vlcache.json": null }));
    expect(missing.code).toBe("bundle_missing_file");
    expect(missing.file).toMatch(/vlcache\.json$/);

    const notJson = await loadError(await variantOf("bad-json", { "config.json": "{ not json" }));
    expect(notJson.code).toBe("bundle_bad_file");
    expect(notJson.file).toMatch(/config\.json$/);
    expect(notJson.reason).toMatch(/not valid JSON/);

    const wrongModel = await loadError(
      await variantOf("wrong-model", { "config.json": JSON.stringify({ model_type: "llama" }) }),
    );
    expect(wrongModel.code).toBe("bundle_bad_file");
    expect(wrongModel.reason).toMatch(/text_config/);

    const badDtype = await loadError(
      await variantOf("bad-dtype", {
        "vlcache.json": JSON.stringify({ converterVersion: "1", sourceFingerprint: "x", dtype: "int3" }),
      }),
    );
    expect(badDtype.file).toMatch(/vlcache\.json$/);
    expect(badDtype.reason).toMatch(/dtype/);
  });

  it("names a graph file ONNX Runtime cannot open", async () => {
    const error = await loadError(
      await variantOf("garbage-vision", { [ONNX_FILES.visionEncoder]: "this is not a protobuf" }),
    );
    expect(error.code).toBe("bundle_session_failed");
    expect(error.file).toMatch(/onnx\/vision_encoder\.onnx$/);
  });

  it("refuses a decoder that was built for another config", async () => {
    const error = await loadError(
      await variantOf("mismatched-decoder", {
        [ONNX_FILES.decoder]: { linkTo: path.join(otherModel, ONNX_FILES.decoder) },
      }),
    );
    expect(error.code).toBe("bundle_bad_file");
    expect(error.reason).toMatch(/past_key_values\.2\.key.*visual_pos_masks/);
  });

  /**
   * The outputs the engine asks to keep in device memory are outputs of the graphs, for a bundle with DeepStack and one
   * without: WebGPU refuses a session naming any other (the CPU provider ignores the names, so only this shows it here).
   */
  it.each([
    ["tiny-deepstack-tied", true],
    ["tiny-plain-untied", false],
  ] as const)("asks only for device outputs that %s's graphs have", async (fixture, deepstack) => {
    const dir = await fixtureBundle(fixture);
    const config = parseQwen3VLConfig(JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")));
    const numLayers = config.text.numHiddenLayers;
    const factory = providerSessionFactory("cpu", { intraOpNumThreads: 1 });
    const vision = await factory.open(path.join(dir, ONNX_FILES.visionEncoder));
    const decoder = await factory.open(path.join(dir, ONNX_FILES.decoder));
    try {
      expect(vision.outputNames).toEqual(expect.arrayContaining(visionOutputNames(deepstack)));
      expect(visionOutputNames(deepstack).length).toBe(deepstack ? 2 : 1);
      expect(decoder.outputNames).toEqual(expect.arrayContaining(presentOutputNames(numLayers)));
    } finally {
      await vision.release();
      await decoder.release();
    }
  });
});
