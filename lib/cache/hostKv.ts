import * as ort from "onnxruntime-node";
import type { KvArray, KvArrays } from "@/lib/cache/kvSegment";
import type { KvCache } from "@/lib/model/engine/kvCache";

/**
 * Host-memory KV between the decoder's form (kvCache.ts: tensors [1, kvHeads, T, headDim] per layer) and the caches'
 * form (kvSegment.ts: arrays [kvHeads, T, headDim] per layer). Both directions are views, never copies: the arrays of
 * `kvArraysOf` are only valid while their tensors are, and `kvCacheOf` wraps the given arrays.
 */

/** The decoder's tensors [1, kvHeads, T, headDim] viewed as arrays [kvHeads, T, headDim] (no copy). */
export function kvArraysOf(kv: KvCache): KvArrays {
  const first = kv.layers[0]?.key;
  if (first === undefined) throw new RangeError("l2: KV without layers");
  const [, kvHeads, , headDim] = first.dims;
  return {
    kvHeads,
    headDim,
    length: kv.length,
    layers: kv.layers.map((layer) => ({ key: tensorArray(layer.key), value: tensorArray(layer.value) })),
  };
}

/** Arrays [kvHeads, T, headDim] as decoder-shaped tensors [1, kvHeads, T, headDim] (no copy). */
export function kvCacheOf(arrays: KvArrays): KvCache {
  const dims = [1, arrays.kvHeads, arrays.length, arrays.headDim];
  const tensor = (data: KvArray) => new ort.Tensor(data instanceof Float32Array ? "float32" : "float16", data, dims);
  return {
    length: arrays.length,
    layers: arrays.layers.map((layer) => ({ key: tensor(layer.key), value: tensor(layer.value) })),
  };
}

function tensorArray(tensor: ort.Tensor): KvArray {
  if (tensor.location !== "cpu")
    throw new RangeError(`l2: host-memory L2 got KV in ${tensor.location} memory (give it deviceKv)`);
  if (tensor.type === "float32" || tensor.type === "float16") return tensor.data as KvArray;
  throw new RangeError(`l2: KV tensors must be float32 or float16, got ${tensor.type}`);
}
