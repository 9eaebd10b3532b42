/**
 * Cutting, joining, padding and downloading KV caches with small ONNX graphs on the engine's own provider, so KV that
 * lives in device memory (kvCache.ts) is reshaped there and never crosses host memory; only `download` brings it to
 * the host.
 *
 * Gathering: one graph per number of parts n: for every layer's key and value, Slice each part [1, kvHeads, C_j,
 * headDim] to its range along the sequence axis and Concat the slices (n = 1: the slice alone), so the result is
 * exact whatever the parts' capacities. Padding: one graph that Pads every tensor with zeros along the sequence axis
 * to a given capacity (kvPadding.ts). Sessions: smallGraphSessions.ts. Each result is a new cache the caller owns
 * (kvCache.ts ownership rule); the inputs stay the caller's.
 */

import * as ort from "onnxruntime-node";
import { GraphBuilder, type FloatType } from "@/lib/model/onnx/graphBuilder";
import type { SessionFactory } from "./executionProvider";
import { kvCacheFromOutputs, kvCapacity, type KvCache } from "./kvCache";
import { SmallGraphSessions } from "./smallGraphSessions";

export interface KvRange {
  readonly kv: KvCache;
  /** Positions [start, end) of `kv`. */
  readonly start: number;
  readonly end: number;
}

type Placement = "device" | "host";
type GraphKind = { readonly op: "gather"; readonly parts: number } | { readonly op: "pad" };

export class KvOps {
  private readonly sessions: SmallGraphSessions;

  constructor(
    factory: SessionFactory,
    private readonly numLayers: number,
    private readonly floatType: FloatType,
  ) {
    this.sessions = new SmallGraphSessions(factory);
  }

  /**
   * The positions of `ranges`, in order, as one new cache (in device memory where the provider keeps outputs there).
   */
  gather(ranges: readonly KvRange[]): Promise<KvCache> {
    return this.run(ranges, "device");
  }

  /** A host-memory copy of `kv` (device KV read back through a graph whose outputs stay on the host). */
  download(kv: KvCache): Promise<KvCache> {
    return this.run([{ kv, start: 0, end: kv.length }], "host");
  }

  /**
   * `kv` in tensors of `capacity` positions: its tensors extended with zeros along the sequence axis (in device memory
   * where the provider keeps outputs there). Nothing past `kv.length` is ever read as a key or value.
   */
  async pad(kv: KvCache, capacity: number): Promise<KvCache> {
    const from = kvCapacity(kv);
    if (!Number.isInteger(capacity) || capacity < from) {
      throw new RangeError(`kvOps: cannot pad a cache of ${from} positions to ${capacity}`);
    }
    this.checkLayers(kv);
    const feeds: Record<string, ort.Tensor> = {
      // [start of each axis…, end of each axis…]: only the end of the sequence axis grows.
      pads: new ort.Tensor("int64", BigInt64Array.from([0, 0, 0, 0, 0, 0, capacity - from, 0], BigInt), [8]),
    };
    kv.layers.forEach((layer, i) => {
      feeds[`part0.${i}.key`] = layer.key;
      feeds[`part0.${i}.value`] = layer.value;
    });
    const session = await this.session({ op: "pad" }, "device");
    return kvCacheFromOutputs(await session.run(feeds), this.numLayers, kv.length, "out", capacity);
  }

  release(): Promise<void> {
    return this.sessions.release();
  }

  private async run(ranges: readonly KvRange[], placement: Placement): Promise<KvCache> {
    if (ranges.length === 0) throw new RangeError("kvOps: no ranges");
    const feeds: Record<string, ort.Tensor> = {};
    let length = 0;
    ranges.forEach(({ kv, start, end }, j) => {
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > kv.length) {
        throw new RangeError(`kvOps: [${start}, ${end}) is empty or outside the ${kv.length} positions`);
      }
      this.checkLayers(kv);
      kv.layers.forEach((layer, i) => {
        feeds[`part${j}.${i}.key`] = layer.key;
        feeds[`part${j}.${i}.value`] = layer.value;
      });
      feeds[`start${j}`] = new ort.Tensor("int64", BigInt64Array.of(BigInt(start)), [1]);
      feeds[`end${j}`] = new ort.Tensor("int64", BigInt64Array.of(BigInt(end)), [1]);
      length += end - start;
    });
    const session = await this.session({ op: "gather", parts: ranges.length }, placement);
    const outputs = await session.run(feeds);
    return kvCacheFromOutputs(outputs, this.numLayers, length, "out");
  }

  private checkLayers(kv: KvCache): void {
    if (kv.layers.length !== this.numLayers)
      throw new RangeError(`kvOps: KV of ${kv.layers.length} layers, expected ${this.numLayers}`);
  }

  private session(kind: GraphKind, placement: Placement): Promise<ort.InferenceSession> {
    const id = `${kind.op === "gather" ? kind.parts : kind.op}/${placement}`;
    const build = () =>
      kind.op === "gather"
        ? gatherGraph(kind.parts, this.numLayers, this.floatType)
        : padGraph(this.numLayers, this.floatType);
    return this.sessions.get(id, build, placement === "device");
  }
}

/**
 * Inputs part{j}.{i}.key|value [1, H, T_j, D], start{j}, end{j} [1]; outputs out.{i}.key|value
 * [1, H, Σ (end − start), D].
 */
export function gatherGraph(parts: number, numLayers: number, floatType: FloatType): GraphBuilder {
  const g = new GraphBuilder({ name: `kv_gather_${parts}`, floatType });
  const bounds = Array.from({ length: parts }, (_, j) => ({
    start: g.input(`start${j}`, "int64", [1]),
    end: g.input(`end${j}`, "int64", [1]),
  }));
  const axis = g.constInt64([2]);
  for (let i = 0; i < numLayers; i++) {
    for (const kind of ["key", "value"]) {
      const slices = bounds.map(({ start, end }, j) => {
        const part = g.input(`part${j}.${i}.${kind}`, floatType, [1, "kv_heads", `length${j}`, "head_dim"]);
        return g.op1("Slice", [part, start, end, axis]);
      });
      const joined = parts === 1 ? slices[0] : g.op1("Concat", slices, { axis: 2 });
      g.output(joined, `out.${i}.${kind}`, floatType, [1, "kv_heads", "length", "head_dim"]);
    }
  }
  return g;
}

/** Inputs part0.{i}.key|value [1, H, C, D] and pads [8] (ONNX Pad's); outputs out.{i}.key|value, zero-padded. */
export function padGraph(numLayers: number, floatType: FloatType): GraphBuilder {
  const g = new GraphBuilder({ name: "kv_pad", floatType });
  const pads = g.input("pads", "int64", [8]);
  for (let i = 0; i < numLayers; i++) {
    for (const kind of ["key", "value"]) {
      const part = g.input(`part0.${i}.${kind}`, floatType, [1, "kv_heads", "length", "head_dim"]);
      g.output(g.op1("Pad", [part, pads]), `out.${i}.${kind}`, floatType, [1, "kv_heads", "capacity", "head_dim"]);
    }
  }
  return g;
}
