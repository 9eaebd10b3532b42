import * as ort from "onnxruntime-node";
import type { TextConfig } from "@/lib/model/config";
import type { FloatType } from "@/lib/model/onnx/graphBuilder";

/**
 * The decoder's key/value cache for one sequence: per layer, keys and values [1, kvHeads, length, headDim] of the
 * first `length` tokens, exactly the `present.{i}.*` tensors a decoder run returned (or empty ones before the first).
 * Invariant: every tensor's third dim equals `length`. Immutable: a run returns a new cache, so a cached prefix (L2)
 * can be resumed any number of times.
 */
export interface KvLayer {
  readonly key: ort.Tensor;
  readonly value: ort.Tensor;
}

export interface KvCache {
  readonly length: number;
  readonly layers: readonly KvLayer[];
}

export function emptyKvCache(text: TextConfig, floatType: FloatType): KvCache {
  const dims = [1, text.numKeyValueHeads, 0, text.headDim];
  const empty = () => new ort.Tensor(floatType, floatType === "float16" ? new Uint16Array(0) : new Float32Array(0), dims);
  return { length: 0, layers: Array.from({ length: text.numHiddenLayers }, () => ({ key: empty(), value: empty() })) };
}

/** Reads the `present.{i}.key|value` outputs of a decoder run as the cache of `length` tokens. */
export function kvCacheFromOutputs(outputs: ort.InferenceSession.OnnxValueMapType, numLayers: number, length: number): KvCache {
  const layers: KvLayer[] = [];
  for (let i = 0; i < numLayers; i++) {
    const key = outputs[`present.${i}.key`] as ort.Tensor;
    const value = outputs[`present.${i}.value`] as ort.Tensor;
    if (key.dims[2] !== length || value.dims[2] !== length) {
      throw new Error(`present.${i} holds ${key.dims[2]} positions, expected ${length}`);
    }
    layers.push({ key, value });
  }
  return { length, layers };
}
