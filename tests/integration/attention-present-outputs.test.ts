import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "@/lib/model/convert/convert";
import { ONNX_FILES } from "@/lib/model/engine/bundle";
import { createSession } from "@/lib/model/engine/executionProvider";
import { withAttentionPresentOutputs } from "@/lib/model/onnx/attentionPresentOutputs";
import {
  fixtureBundle,
  fixtureDir,
  fixtureGrids,
  fixturePixelValues,
  maxAbsDiff,
  readReference,
  type Reference,
} from "./engineFixtures";

const { onnx } = onnxProto;
type onnx = typeof onnx;

function graphOf(model: Uint8Array): InstanceType<onnx["GraphProto"]> {
  const graph = onnx.ModelProto.decode(model).graph;
  if (!graph) throw new Error("model without a graph");
  return graph as InstanceType<onnx["GraphProto"]>;
}

function nodesOf(graph: InstanceType<onnx["GraphProto"]>): InstanceType<onnx["NodeProto"]>[] {
  return graph.node as InstanceType<onnx["NodeProto"]>[];
}
const NAME = "tiny-deepstack-tied";
const CPU: ort.InferenceSession.SessionOptions = { executionProviders: ["cpu"], intraOpNumThreads: 1 };

/**
 * The WebGPU form of the vision encoder (present outputs on its MultiHeadAttention nodes) computes what the bundle's
 * form computes: checked on real ORT CPU sessions, which take the unfused attention path for the rewritten graph and
 * the flash path for the original.
 */
describe("MultiHeadAttention present outputs", () => {
  let bundle: string;
  let reference: Reference;
  let scratch: string;

  beforeAll(async () => {
    bundle = await fixtureBundle(NAME);
    reference = readReference(NAME);
    scratch = await mkdtemp(path.join(os.tmpdir(), "vlcache-present-"));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** Both images of the fixture in one call: two frames, so the attention batch has padding slots. */
  async function features(session: ort.InferenceSession): Promise<Float32Array> {
    const grids = fixtureGrids(reference);
    const pixels = fixturePixelValues(NAME, reference);
    const patches = grids.reduce((n, g) => n + g.t * g.h * g.w, 0);
    const thw = BigInt64Array.from(grids.flatMap((g) => [g.t, g.h, g.w]).map(BigInt));
    const outputs = await session.run({
      pixel_values: new ort.Tensor("float32", pixels, [patches, pixels.length / patches]),
      image_grid_thw: new ort.Tensor("int64", thw, [grids.length, 3]),
    });
    await session.release();
    return (outputs.image_features as ort.Tensor).data as Float32Array;
  }

  it("adds the two outputs to every MultiHeadAttention node and changes nothing else", async () => {
    const original = await readFile(path.join(bundle, ONNX_FILES.visionEncoder));
    const rewritten = withAttentionPresentOutputs(original);
    expect(rewritten).not.toBeNull();
    const before = graphOf(original);
    const after = graphOf(rewritten!);
    const attention = nodesOf(after).filter((n) => n.opType === "MultiHeadAttention");
    expect(attention.length).toBeGreaterThan(0);
    for (const node of attention) {
      expect(node.output).toEqual([node.output[0], `${node.name}/present_key`, `${node.name}/present_value`]);
    }
    const firstOutputs = (g: InstanceType<onnx["GraphProto"]>) =>
      nodesOf(g).map((n) => JSON.stringify({ ...onnx.NodeProto.toObject(n, { bytes: String }), output: n.output.slice(0, 1) }));
    expect(firstOutputs(after)).toEqual(firstOutputs(before));
    const withoutNodes = (g: InstanceType<onnx["GraphProto"]>) =>
      Buffer.from(onnx.GraphProto.encode(onnx.GraphProto.create({ ...g, node: [] })).finish());
    expect(withoutNodes(after).equals(withoutNodes(before))).toBe(true);
    // Already rewritten, and a graph without MultiHeadAttention: nothing to do.
    expect(withAttentionPresentOutputs(rewritten!)).toBeNull();
    expect(withAttentionPresentOutputs(await readFile(path.join(bundle, ONNX_FILES.decoder)))).toBeNull();
  });

  it("gives the bundle's image features, with inline weights and with external data", async () => {
    const file = path.join(bundle, ONNX_FILES.visionEncoder);
    const expected = await features(await ort.InferenceSession.create(file, CPU));
    expect(maxAbsDiff(await features(await createSession(file, CPU, true)), expected)).toBeLessThan(1e-5);

    const external = path.join(scratch, "external");
    const result = await convertCheckpoint(path.join(fixtureDir(NAME), "model"), external, {
      dtype: "fp32",
      externalDataThresholdBytes: 0,
    });
    expect(result.graphs.vision_encoder.externalData).toBe(true);
    const externalFile = path.join(external, ONNX_FILES.visionEncoder);
    expect(maxAbsDiff(await features(await createSession(externalFile, CPU, true)), expected)).toBeLessThan(1e-5);
  });
});
